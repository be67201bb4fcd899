/**
 * The policy file's grammar (zod). Strict objects: an unknown key is an error, because a misspelt key silently
 * falling back to a default is how a policy ends up meaning something nobody wrote. No field is a regular
 * expression: nothing in a policy can backtrack (see docs/policy.md).
 */
import { z } from 'zod';
import { MASKS, SAFE_HARBOR_KINDS } from './safe-harbor.js';

const name = z
  .string()
  .min(1)
  .max(100)
  .refine((s) => /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(s), 'use letters, digits, ".", "_" and "-"');
const groupName = z.string().min(1).max(200);
const durationText = z.string().min(1).max(40);
const clockTime = z.string().refine((s) => /^([01]\d|2[0-3]):[0-5]\d$/.test(s), 'expected HH:MM (24-hour)');
const weekday = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);
const operation = z.enum(['SELECT', 'INSERT', 'UPDATE', 'DELETE']);

export const settingsSchema = z.strictObject({
  timezone: z.string().min(1).default('UTC'),
  businessHours: z
    .strictObject({
      days: z.array(weekday).min(1).default(['mon', 'tue', 'wed', 'thu', 'fri']),
      start: clockTime.default('08:00'),
      end: clockTime.default('18:00'),
    })
    .default({ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '08:00', end: '18:00' }),
  pendingTimeout: durationText.default('24h'),
  breakGlassMaxDuration: durationText.default('1h'),
  justification: z
    .strictObject({
      minLength: z.number().int().min(1).max(10_000).default(10),
      maxLength: z.number().int().min(1).max(10_000).default(2000),
    })
    .default({ minLength: 10, maxLength: 2000 }),
  maxPatientIds: z.number().int().min(1).max(10_000).default(500),
});

const groupsRef = z.strictObject({ groups: z.array(groupName).default([]) });

const columnName = z.string().min(1).max(63);
const mask = z.enum(MASKS);
const safeHarborKind = z.enum(SAFE_HARBOR_KINDS);

const phiTableSchema = z.strictObject({
  /** The column holding the patient id, or a foreign key to a table that leads to it (`schema.table.column`). */
  patientKey: z
    .union([columnName, z.strictObject({ column: columnName, references: z.string().min(5).max(200) })])
    .optional(),
  /** Column → Safe Harbor kind (its default mask applies), or kind and a mask of the resource's choosing. */
  columns: z
    .record(
      columnName,
      z.union([safeHarborKind, z.strictObject({ kind: safeHarborKind, mask })], {
        // zod's own words for a failed union are "Invalid input": name what is accepted.
        error: () =>
          `not a Safe Harbor kind: use one of ${SAFE_HARBOR_KINDS.join(', ')} ` +
          `(or { kind, mask } with a mask among ${MASKS.join(', ')})`,
      }),
    )
    .default({}),
});

const resourceSchema = z.strictObject({
  kind: z.literal('postgres'),
  description: z.string().max(1000).default(''),
  connection: z.record(z.string(), z.unknown()).default({}),
  labels: z
    .strictObject({
      confidentiality: z.enum(['U', 'L', 'M', 'N', 'R', 'V']).optional(),
      sensitivity: z.array(z.string().min(1).max(20)).default([]),
    })
    .default({ sensitivity: [] }),
  /** Tables that hold PHI (schema.table → patient key and labelled columns). */
  phi: z.record(z.string(), phiTableSchema).default({}),
});

const autoApproveSchema = z.strictObject({
  groups: z.array(groupName).min(1).optional(),
  maxDuration: durationText.optional(),
  businessHoursOnly: z.boolean().default(false),
  purposes: z.array(z.string()).min(1).optional(),
});

const approvalRuleSchema = z.strictObject({
  autoApprove: z.array(autoApproveSchema).default([]),
  approvers: z.strictObject({
    groups: z.array(groupName).min(1, 'an approval rule needs at least one approver group'),
    count: z.number().int().min(1).max(10).default(1),
    fromEachGroup: z.boolean().default(false),
    requireMfa: z.boolean().default(true),
    /** Refuse approvers without a verified e-mail or person claim: phigate could not tell them from the requester. */
    requirePerson: z.boolean().default(false),
  }),
});

const tableAccessSchema = z.strictObject({
  columns: z.array(columnName).min(1),
  operations: z.array(operation).min(1).default(['SELECT']),
  /** Masks of this role, overriding the resource's for the columns named. */
  masks: z.record(columnName, mask).default({}),
});

const roleSchema = z.strictObject({
  description: z.string().max(1000).default(''),
  resource: name,
  eligibleGroups: z.array(groupName).min(1),
  access: z.record(z.string(), tableAccessSchema).default({}),
  duration: z.strictObject({
    default: durationText,
    max: durationText,
    cumulativeMax: durationText.optional(),
  }),
  purposes: z.array(z.string()).min(1),
  patientScope: z.enum(['required', 'optional', 'none']).default('none'),
  /** The requester's patients are those a PHI table relates them to (a care team, the attending of encounters). */
  careRelation: z
    .strictObject({
      /** A PHI table of the role's resource whose rows lead to a patient (it has a patientKey). */
      table: z.string(),
      /** The column of that table naming the person. */
      requesterColumn: columnName,
      /** Which of the requester's identifiers that column holds. */
      requesterIdentifier: z.enum(['subject', 'email', 'id']).default('subject'),
      /** For `subject`: the issuer whose subjects the column holds (needed when several issuers are trusted). */
      issuer: z.string().url().optional(),
      /** Optional columns bounding when a row holds (a NULL `validUntil` is open-ended). */
      validFrom: columnName.optional(),
      validUntil: columnName.optional(),
    })
    .optional(),
  approval: name.optional(),
  emergency: z.boolean().default(false),
  /** Require a multi-factor sign-in of the requester; defaults to true for emergency roles. */
  requireMfa: z.boolean().optional(),
  /** Automatic logoff: a gateway session idle this long is closed (164.312(a)(2)(iii)). */
  idleTimeout: durationText.default('15m'),
  /** Database sessions one grant of this role may hold at once (its role's CONNECTION LIMIT). */
  maxConnections: z.number().int().min(1).max(1000).default(10),
});

export const policySchema = z.strictObject({
  version: z.literal(1),
  settings: settingsSchema.default(settingsSchema.parse({})),
  administrators: groupsRef.default({ groups: [] }),
  auditors: groupsRef.default({ groups: [] }),
  resources: z.record(name, resourceSchema),
  approvalRules: z.record(name, approvalRuleSchema).default({}),
  roles: z.record(name, roleSchema),
});

export type PolicyFile = z.output<typeof policySchema>;
export type RoleFile = z.output<typeof roleSchema>;
export type ApprovalRuleFile = z.output<typeof approvalRuleSchema>;
export type AutoApproveFile = z.output<typeof autoApproveSchema>;
