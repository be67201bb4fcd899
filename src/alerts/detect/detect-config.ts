/**
 * The policy's `alerts:` section as the detectors read it (zod, strict: a misspelt key is an error, never a silent
 * default). Every threshold has a default a hospital could start with; docs/detectors.md explains each. Durations
 * are written as elsewhere in the policy (`30m`, `72h`, at most 30 days); longer spans (state retention) in days.
 */
import { z } from 'zod';
import { parseDuration } from '../../lib/duration.js';
import { ALERT_SEVERITIES } from '../alert-severity.js';
import { DETECTOR_KIND_NAMES, type DetectorKind } from './detector-kinds.js';

const duration = z
  .string()
  .min(1)
  .max(40)
  .transform((text, ctx) => {
    try {
      return parseDuration(text);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : 'not a duration' });
      return z.NEVER;
    }
  });
const name = z.string().min(1).max(100);
const count = (min: number, max: number) => z.number().int().min(min).max(max);
const clockTime = z.string().refine((s) => /^([01]\d|2[0-3]):[0-5]\d$/.test(s), 'expected HH:MM (24-hour)');
const weekday = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);
const kind = z.enum(DETECTOR_KIND_NAMES as [DetectorKind, ...DetectorKind[]]);
const severity = z.enum(ALERT_SEVERITIES);

/** A per-metric number: statements, rows, distinct patients. */
const perMetric = (d: { statements: number; rows: number; patients: number }) =>
  z
    .strictObject({
      statements: z.number().min(0).default(d.statements),
      rows: z.number().min(0).default(d.rows),
      patients: z.number().min(0).default(d.patients),
    })
    .prefault({});

export const alertsConfigSchema = z.strictObject({
  /** Kinds not raised at all. */
  disabled: z.array(kind).default([]),
  /** A kind's severity, when the default does not suit (e.g. `off-hours: info`). */
  severities: z.partialRecord(kind, severity).default({}),
  /** Roles and resources no detector looks at (e.g. a synthetic test role). Break-glass is never ignored. */
  ignoreRoles: z.array(name).default([]),
  ignoreResources: z.array(name).default([]),
  /**
   * From the first event the engine sees, this long it only learns: no alert that compares with a person's own
   * history (new role, more privileged role, off-hours, volume against baseline). Rules that need no history fire.
   */
  learningPeriod: duration.prefault('7d'),
  /** Business hours for off-hours detection; the policy's `settings` are used when absent. */
  timezone: z.string().min(1).optional(),
  businessHours: z
    .strictObject({ days: z.array(weekday).min(1), start: clockTime, end: clockTime })
    .optional(),
  breakGlass: z.strictObject({ reviewDue: duration.prefault('72h') }).prefault({}),
  escalation: z
    .strictObject({
      /** Privilege rank of roles (higher = more privileged); unlisted roles rank 0. */
      roleRanks: z.record(name, count(0, 1000)).default({}),
      reRequestWindow: duration.prefault('24h'),
      fastApproval: duration.prefault('15s'),
      rubberStampCount: count(2, 1000).default(10),
      rubberStampWindow: duration.prefault('24h'),
    })
    .prefault({}),
  offHours: z
    .strictObject({
      /** Minutes either side of business hours that still count as in hours (a shift that overruns). */
      graceMinutes: count(0, 240).default(30),
      /** Grants of a person and role before their habit is known. */
      minGrants: count(1, 1000).default(5),
      /** At most this share of a person's grants of a role off-hours, and the role is "used in hours". */
      maxOffHoursShare: z.number().min(0).max(1).default(0.05),
      /** Roles always treated as used in hours (alert from the first off-hours use once learning is over). */
      inHoursRoles: z.array(name).default([]),
      /** Roles never alerted on for hours (on-call roles). */
      exemptRoles: z.array(name).default([]),
    })
    .prefault({}),
  volume: z
    .strictObject({
      /** Samples (grants, or active hours) of a person and role kept for the baseline: a fixed-size window. */
      samples: count(5, 200).default(30),
      /** Samples needed before the baseline is used. */
      minSamples: count(3, 200).default(8),
      /** Threshold = median + max(madFactor × 1.4826 × MAD, (ratio − 1) × median, minIncrease). */
      madFactor: z.number().min(1).max(100).default(8),
      ratio: z.number().min(1).max(1000).default(4),
      minIncrease: perMetric({ statements: 20, rows: 2000, patients: 15 }),
      /** Absolute ceilings per grant and per hour, whatever the baseline. */
      grantCeiling: perMetric({ statements: 5000, rows: 200_000, patients: 2000 }),
      hourCeiling: perMetric({ statements: 3000, rows: 100_000, patients: 1000 }),
      /** A statement returning more rows than this is a bulk export; so is every `COPY … TO STDOUT`. */
      bulkRows: count(1, 100_000_000).default(10_000),
      /** Distinct patients counted exactly per grant and hour up to this many (the set is bounded). */
      maxTrackedPatients: count(10, 100_000).default(2500),
    })
    .prefault({}),
  probing: z
    .strictObject({
      window: duration.prefault('10m'),
      threshold: count(2, 10_000).default(5),
      /** Anonymous sources (client addresses) tracked at once; the least recently seen is dropped beyond. */
      maxSources: count(100, 1_000_000).default(10_000),
    })
    .prefault({}),
  /** A person silent this long is forgotten (their baselines and history dropped): state stays bounded. */
  forgetAfterDays: count(1, 3650).default(180),
});

export type AlertsConfig = z.output<typeof alertsConfigSchema>;
export type AlertsConfigInput = z.input<typeof alertsConfigSchema>;

/** Reads an `alerts:` section; throws with zod's path-bearing message for bad input (nothing is half-applied). */
export function parseAlertsConfig(input: unknown): AlertsConfig {
  return alertsConfigSchema.parse(input ?? {});
}
