/**
 * HL7 v3 PurposeOfUse codes (ActReason), the vocabulary a request states its "why" in.
 * See https://terminology.hl7.org/ValueSet-v3-PurposeOfUse.html — only codes phigate can meaningfully decide on.
 */
export const PURPOSES_OF_USE: Readonly<Record<string, string>> = Object.freeze({
  TREAT: 'treatment',
  ETREAT: 'emergency treatment',
  BTG: 'break the glass',
  CAREMGT: 'care management',
  CLINTRCH: 'clinical trial research',
  COC: 'coordination of care',
  HDIRECT: 'directory',
  HOPERAT: 'healthcare operations',
  HPAYMT: 'healthcare payment',
  HMARKT: 'healthcare marketing',
  HRESCH: 'healthcare research',
  HSYSADMIN: 'health system administration',
  HQUALIMP: 'health quality improvement',
  HTEST: 'test health data',
  PATRQT: 'patient requested',
  PUBHLTH: 'public health',
  FRAUD: 'fraud',
  LEGAL: 'legal',
  HLEGAL: 'legal (healthcare)',
  DISASTER: 'disaster',
  THREAT: 'threat',
});

/** Purposes that justify break-glass access without approvers. */
export const EMERGENCY_PURPOSES: ReadonlySet<string> = new Set(['ETREAT', 'BTG']);

export const isPurposeOfUse = (code: string): boolean => Object.hasOwn(PURPOSES_OF_USE, code);
