/**
 * Volume: statements, rows and distinct patients per grant and per hour, each against the person's own robust
 * baseline for that role (median and MAD of their last grants, and of their last active hours — hours without
 * activity are not samples, or every baseline would be zero) and against absolute ceilings; and bulk exports:
 * every `COPY … TO STDOUT`, and any result over `volume.bulkRows`. One alert per grant (or hour), kind and scope.
 */
import { raiseForRequest, type DetectContext, type EventInput } from './detect-context.js';
import type { Baseline, Metrics, RequestState, RoleHabit, VolumeBucket } from './engine-state.js';
import { emptyBucket } from './engine-state.js';
import type { CompletedResult } from './event-facts.js';
import { habitOf } from './habits.js';
import { addSample, METRICS, spreadOf, type ThresholdRule } from './robust-baseline.js';

const HOUR_MS = 3_600_000;

export function thresholdRule(ctx: DetectContext): ThresholdRule {
  const v = ctx.config.volume;
  return {
    capacity: v.samples,
    minSamples: v.minSamples,
    madFactor: v.madFactor,
    ratio: v.ratio,
    minIncrease: v.minIncrease,
  };
}

function sampleOf(bucket: VolumeBucket): Metrics<number> {
  return { statements: bucket.statements, rows: bucket.rows, patients: bucket.patientCount };
}

/** The person's current hour for the role; a finished hour becomes a sample of the hourly baseline. */
function hourBucket(ctx: DetectContext, habit: RoleHabit, rule: ThresholdRule): VolumeBucket {
  const hour = Math.floor(ctx.now / HOUR_MS);
  if (habit.current !== null && habit.hour === hour) return habit.current;
  if (habit.current !== null && habit.current.statements > 0)
    addSample(habit.perHour, sampleOf(habit.current), rule);
  habit.hour = hour;
  habit.current = emptyBucket();
  return habit.current;
}

/**
 * The Set beside each bucket's token array: membership in O(1) without making the state anything but JSON. Built
 * from the array when first needed (after a restore), dropped with the bucket.
 */
const patientSets = new WeakMap<VolumeBucket, Set<string>>();

function addPatients(bucket: VolumeBucket, tokens: readonly string[], cap: number): void {
  if (tokens.length === 0 || bucket.patientCount >= cap) return;
  let seen = patientSets.get(bucket);
  if (seen === undefined) patientSets.set(bucket, (seen = new Set(bucket.patients)));
  for (const token of tokens) {
    if (bucket.patientCount >= cap) return;
    if (!seen.has(token)) {
      seen.add(token);
      bucket.patients.push(token);
      bucket.patientCount++;
    }
  }
}

interface Judged {
  readonly ev: EventInput;
  readonly id: string;
  readonly req: RequestState;
  readonly scope: 'grant' | 'hour';
  readonly bucket: VolumeBucket;
  readonly baseline: Baseline;
  readonly ceiling: Metrics<number>;
}

function judge(ctx: DetectContext, j: Judged): void {
  const { bucket, req } = j;
  const keyBase =
    j.scope === 'grant' ? j.id : `${req.requester}:${req.role}:${Math.floor(ctx.now / HOUR_MS)}`;
  for (const metric of METRICS) {
    const value = metric === 'patients' ? bucket.patientCount : bucket[metric];
    const ceiling = j.ceiling[metric];
    if (value > ceiling && !bucket.alerted.includes('ceiling')) {
      bucket.alerted.push('ceiling');
      ctx.raise({
        kind: 'volume.ceiling',
        subject: req.requester,
        at: ctx.now,
        seq: j.ev.seq,
        key: `${j.scope}:${keyBase}`,
        evidence: { requestId: j.id, role: req.role, scope: j.scope, metric, value, ceiling },
      });
    }
    const threshold = j.baseline.thresholds[metric];
    if (ctx.learning || threshold === null || value <= threshold || bucket.alerted.includes('baseline'))
      continue;
    bucket.alerted.push('baseline');
    const samples = j.baseline.samples[metric];
    const { median, mad } = spreadOf(samples);
    ctx.raise({
      kind: 'volume.above-baseline',
      subject: req.requester,
      at: ctx.now,
      seq: j.ev.seq,
      key: `${j.scope}:${keyBase}`,
      evidence: {
        requestId: j.id,
        role: req.role,
        scope: j.scope,
        metric,
        value,
        median,
        mad,
        threshold: Math.round(threshold),
        samples: samples.length,
      },
    });
  }
}

/** Statements executed, and (from completions) their rows and patients, counted into the grant and the hour. */
export function onVolume(
  ctx: DetectContext,
  ev: EventInput,
  id: string,
  req: RequestState,
  added: { statements: number; rows: number; patients: readonly string[] },
): void {
  const v = ctx.config.volume;
  const rule = thresholdRule(ctx);
  const habit = habitOf(ctx.person(req.requester), req.role);
  const hour = hourBucket(ctx, habit, rule);
  for (const bucket of [req.volume, hour]) {
    bucket.statements += added.statements;
    bucket.rows += added.rows;
    addPatients(bucket, added.patients, v.maxTrackedPatients);
  }
  judge(ctx, {
    ev,
    id,
    req,
    scope: 'grant',
    bucket: req.volume,
    baseline: habit.perGrant,
    ceiling: v.grantCeiling,
  });
  judge(ctx, { ev, id, req, scope: 'hour', bucket: hour, baseline: habit.perHour, ceiling: v.hourCeiling });
}

/**
 * Closes every hour that has passed (its counts become a sample, its patients are dropped): run with the hourly
 * sweep, so that memory holds the patients of the current hour's active people only, not of everyone's last hour.
 */
export function closePastHours(ctx: DetectContext): void {
  const hour = Math.floor(ctx.now / HOUR_MS);
  const rule = thresholdRule(ctx);
  for (const person of Object.values(ctx.state.people)) {
    for (const habit of Object.values(person.roles)) {
      if (habit.current === null || habit.hour >= hour) continue;
      if (habit.current.statements > 0) addSample(habit.perHour, sampleOf(habit.current), rule);
      habit.current = null;
    }
  }
}

/** A grant ended: its totals become a sample of the person's per-grant baseline (grants never used are not). */
export function onGrantEnded(ctx: DetectContext, req: RequestState): void {
  if (req.volume.statements === 0) return;
  addSample(habitOf(ctx.person(req.requester), req.role).perGrant, sampleOf(req.volume), thresholdRule(ctx));
  // Its patients are no longer needed: the entry lingers a while for late events only.
  req.volume.patients = [];
}

export function onBulk(
  ctx: DetectContext,
  ev: EventInput,
  id: string,
  req: RequestState,
  copies: readonly string[],
  results: readonly CompletedResult[],
): void {
  const threshold = ctx.config.volume.bulkRows;
  const found = [
    ...copies.map((statementId) => ({
      statementId,
      how: 'copy-to-stdout',
      rows: undefined as number | undefined,
    })),
    ...results
      .filter((x) => x.rows > threshold)
      .map((x) => ({ statementId: x.statementId, how: 'rows', rows: x.rows })),
  ];
  for (const f of found) {
    raiseForRequest(
      ctx,
      'bulk-export',
      ev,
      id,
      req,
      {
        how: f.how,
        rows: f.rows,
        statementId: f.statementId,
        threshold,
      },
      `${id}:${f.statementId}:${f.how}`,
    );
  }
}
