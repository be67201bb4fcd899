/**
 * The HIPAA Safe Harbor profile (45 CFR 164.514(b)(2)): the 18 kinds of identifier a policy labels columns with, and
 * the mask each kind gets unless a role says otherwise. The defaults follow Safe Harbor: identifiers are removed
 * (redacted, or hidden for images and biometrics), dates keep only their year, geography below the state is removed;
 * a role that needs more must say so column by column (`clear`, `last4`, `pseudonym`, `zip3`), and that choice is
 * visible in the policy that approvers and auditors read.
 */

/** How a column reaches a grant's role. */
export const MASKS = ['clear', 'hide', 'redact', 'last4', 'year', 'zip3', 'pseudonym'] as const;
export type Mask = (typeof MASKS)[number];

export const MASK_MEANINGS: Readonly<Record<Mask, string>> = Object.freeze({
  clear: 'the value as stored',
  hide: 'no access: the column is absent',
  redact: "a constant ('***') in place of every non-null value",
  last4: 'the last four characters, the rest as *',
  year: 'dates and times truncated to 1 January of their year (UTC)',
  zip3: 'the first three digits of a ZIP code; 000 for the sparsely populated ZIP3 areas',
  pseudonym:
    'a keyed HMAC token: the same value always gives the same token, and no token gives back the value',
});

export const SAFE_HARBOR_KINDS = [
  'names',
  'geography',
  'dates',
  'phone',
  'fax',
  'email',
  'ssn',
  'mrn',
  'health-plan',
  'account',
  'license',
  'vehicle',
  'device',
  'url',
  'ip',
  'biometric',
  'photo',
  'other-id',
] as const;
export type SafeHarborKind = (typeof SAFE_HARBOR_KINDS)[number];

interface KindProfile {
  /** The item of 164.514(b)(2)(i), (A) to (R). */
  readonly item: string;
  readonly description: string;
  readonly defaultMask: Mask;
}

export const SAFE_HARBOR: Readonly<Record<SafeHarborKind, KindProfile>> = Object.freeze({
  names: { item: 'A', description: 'names', defaultMask: 'redact' },
  geography: {
    item: 'B',
    description: 'geographic subdivisions smaller than a state (street, city, county, ZIP code)',
    defaultMask: 'redact',
  },
  dates: {
    item: 'C',
    description: 'dates (except year) directly related to an individual: birth, admission, discharge, death',
    defaultMask: 'year',
  },
  phone: { item: 'D', description: 'telephone numbers', defaultMask: 'redact' },
  fax: { item: 'E', description: 'fax numbers', defaultMask: 'redact' },
  email: { item: 'F', description: 'email addresses', defaultMask: 'redact' },
  ssn: { item: 'G', description: 'social security numbers', defaultMask: 'redact' },
  mrn: { item: 'H', description: 'medical record numbers', defaultMask: 'redact' },
  'health-plan': { item: 'I', description: 'health plan beneficiary numbers', defaultMask: 'redact' },
  account: { item: 'J', description: 'account numbers', defaultMask: 'redact' },
  license: { item: 'K', description: 'certificate and licence numbers', defaultMask: 'redact' },
  vehicle: {
    item: 'L',
    description: 'vehicle identifiers and serial numbers, including licence plates',
    defaultMask: 'redact',
  },
  device: { item: 'M', description: 'device identifiers and serial numbers', defaultMask: 'redact' },
  url: { item: 'N', description: 'web addresses (URLs)', defaultMask: 'redact' },
  ip: { item: 'O', description: 'IP addresses', defaultMask: 'redact' },
  biometric: {
    item: 'P',
    description: 'biometric identifiers, including finger and voice prints',
    defaultMask: 'hide',
  },
  photo: { item: 'Q', description: 'full-face photographs and comparable images', defaultMask: 'hide' },
  'other-id': {
    item: 'R',
    description: 'any other unique identifying number, characteristic or code',
    defaultMask: 'redact',
  },
});

export const isSafeHarborKind = (value: string): value is SafeHarborKind => Object.hasOwn(SAFE_HARBOR, value);

/**
 * ZIP3 areas of 20,000 people or fewer, whose three digits Safe Harbor replaces by 000 (HHS de-identification
 * guidance, from the 2000 Census).
 */
export const RESTRICTED_ZIP3: readonly string[] = Object.freeze([
  '036',
  '059',
  '063',
  '102',
  '203',
  '556',
  '692',
  '790',
  '821',
  '823',
  '830',
  '831',
  '878',
  '879',
  '884',
  '890',
  '893',
]);
