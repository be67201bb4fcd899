/**
 * Probing: refusals that, repeated within `probing.window`, look like someone feeling for a way in — guard
 * refusals of statements, refused sign-ins (`auth.reject`, counted by their `detail.count` when aggregated),
 * connection attempts without a grant, and requests refused as outside the person's care relation. Counted per
 * person, or per client address when nobody signed in; one alert per source and window.
 */
import type { AuditRecord } from '../../audit/event.js';
import type { DetectContext, EventInput } from './detect-context.js';
import { detailNumber, executedStatements } from './event-facts.js';

const CARE_RELATION_REFUSALS: ReadonlySet<string> = new Set([
  'patients.outside-care-relation',
  'patients.no-care-relation',
]);
/** Distinct reason codes kept as evidence per source. */
const MAX_CODES = 10;

/** Refusals in this event that count as probing: their reason codes, with weight (an aggregated record counts many). */
export function probeHits(r: AuditRecord): { codes: readonly string[]; weight: number } | undefined {
  switch (r.action) {
    case 'auth.reject':
      return { codes: [r.reasonCode ?? 'auth.unknown'], weight: Math.max(1, detailNumber(r, 'count') ?? 1) };
    case 'session.refuse':
      return { codes: [r.reasonCode ?? 'gateway.unknown'], weight: 1 };
    case 'session.token':
    case 'session.direct-credentials':
      return r.outcome === 'refused' ? { codes: [r.reasonCode ?? 'grant.not-active'], weight: 1 } : undefined;
    case 'request.create':
      return r.outcome === 'refused' && CARE_RELATION_REFUSALS.has(r.reasonCode ?? '')
        ? { codes: [r.reasonCode!], weight: 1 }
        : undefined;
    case 'statement.execute':
    case 'statement.batch': {
      if (r.outcome !== 'refused') return undefined;
      const { refusedCodes } = executedStatements(r);
      return refusedCodes.length > 0 ? { codes: refusedCodes, weight: refusedCodes.length } : undefined;
    }
    default:
      return undefined;
  }
}

function sourceOf(r: AuditRecord): string | undefined {
  if (r.who.actor !== 'anonymous') return r.who.actor;
  const address = r.how?.clientAddress;
  return address === undefined ? undefined : `address:${address}`;
}

export function onProbe(ctx: DetectContext, ev: EventInput): void {
  const hits = probeHits(ev.record);
  const source = sourceOf(ev.record);
  if (hits === undefined || source === undefined) return;
  const { window, threshold } = ctx.config.probing;
  let probe = ctx.state.probes[source];
  if (probe === undefined) {
    probe = { lastAt: ctx.now, hits: [], codes: [], firstSeq: ev.seq, quietUntil: 0 };
    // A flood of new sources is cut back as it grows (by a tenth over the cap), not only at the hourly sweep.
    if (++ctx.state.probeSources > ctx.config.probing.maxSources * 1.1) sweepProbes(ctx);
    ctx.state.probes[source] = probe;
    if (source.startsWith('address:')) probe.clientAddress = source.slice('address:'.length);
  }
  probe.lastAt = ctx.now;
  probe.hits = probe.hits.filter(([at]) => ctx.now - at < window);
  if (probe.hits.length === 0) {
    probe.firstSeq = ev.seq;
    probe.codes = [];
  }
  probe.hits.push([ctx.now, hits.weight]);
  for (const code of hits.codes)
    if (!probe.codes.includes(code) && probe.codes.length < MAX_CODES) probe.codes.push(code);
  const count = probe.hits.reduce((sum, [, weight]) => sum + weight, 0);
  if (count < threshold) return;
  const quiet = ctx.now < probe.quietUntil;
  const evidence = {
    count,
    windowSeconds: Math.round(window / 1000),
    reasonCodes: [...probe.codes],
    firstSeq: probe.firstSeq,
    lastSeq: ev.seq,
    clientAddress: probe.clientAddress,
  };
  probe.hits = [];
  if (quiet) return;
  probe.quietUntil = ctx.now + window;
  ctx.raise({
    kind: 'probing',
    subject: source,
    at: ctx.now,
    seq: ev.seq,
    key: `${source}:${ev.seq}`,
    evidence,
  });
}

/** Forgets sources quiet for a window, and the least recently seen beyond `probing.maxSources`; recounts them. */
export function sweepProbes(ctx: DetectContext): void {
  const { window, maxSources } = ctx.config.probing;
  for (const [source, probe] of Object.entries(ctx.state.probes)) {
    if (ctx.now - probe.lastAt > window && ctx.now >= probe.quietUntil) delete ctx.state.probes[source];
  }
  const sources = Object.entries(ctx.state.probes);
  ctx.state.probeSources = sources.length;
  if (sources.length <= maxSources) return;
  sources.sort(([, a], [, b]) => a.lastAt - b.lastAt);
  for (const [source] of sources.slice(0, sources.length - maxSources)) delete ctx.state.probes[source];
  ctx.state.probeSources = maxSources;
}
