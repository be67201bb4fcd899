/**
 * Scores detector alerts against the labelled workload's ground truth: an alert is right when an episode of a kind
 * it may have (`Episode.kinds`), about the same subject, covers its time; an episode is recalled when an alert of its
 * own kind does. Every other alert is false — near-misses included, which are listed to show which ones fired.
 */
import type { DetectedAlert } from '../../src/alerts/detect/detector-kinds.js';
import type { Episode, NearMiss } from './alert-workload.js';

export interface KindScore {
  readonly kind: string;
  readonly episodes: number;
  readonly recalled: number;
  readonly alerts: number;
  readonly trueAlerts: number;
  readonly recall: number;
  readonly precision: number;
}

export interface Score {
  readonly kinds: readonly KindScore[];
  readonly falseAlerts: readonly DetectedAlert[];
  readonly missed: readonly Episode[];
  readonly nearMissesFired: readonly NearMiss[];
  readonly recall: number;
}

const covers = (e: { subject: string; from: number; to: number }, a: DetectedAlert) => {
  const at = Date.parse(a.at);
  return e.subject === a.subject && at >= e.from && at <= e.to;
};

export function scoreAlerts(
  alerts: readonly DetectedAlert[],
  episodes: readonly Episode[],
  nearMisses: readonly NearMiss[],
  kinds: readonly string[],
): Score {
  const bySubject = new Map<string, Episode[]>();
  for (const e of episodes) bySubject.set(e.subject, [...(bySubject.get(e.subject) ?? []), e]);
  const recalled = new Set<Episode>();
  const falseAlerts: DetectedAlert[] = [];
  const trueByKind = new Map<string, number>();
  for (const a of alerts) {
    const matches = (bySubject.get(a.subject) ?? []).filter((e) => e.kinds.includes(a.kind) && covers(e, a));
    if (matches.length === 0) falseAlerts.push(a);
    else trueByKind.set(a.kind, (trueByKind.get(a.kind) ?? 0) + 1);
    for (const e of matches) if (e.kind === a.kind) recalled.add(e);
  }
  const nearMissesFired = nearMisses.filter((n) =>
    falseAlerts.some((a) => a.kind === n.kind && covers(n, a)),
  );
  const scores = kinds.map((kind): KindScore => {
    const planted = episodes.filter((e) => e.kind === kind);
    const found = planted.filter((e) => recalled.has(e)).length;
    const raised = alerts.filter((a) => a.kind === kind).length;
    const right = trueByKind.get(kind) ?? 0;
    return {
      kind,
      episodes: planted.length,
      recalled: found,
      alerts: raised,
      trueAlerts: right,
      recall: planted.length === 0 ? 1 : found / planted.length,
      precision: raised === 0 ? 1 : right / raised,
    };
  });
  return {
    kinds: scores,
    falseAlerts,
    missed: episodes.filter((e) => !recalled.has(e)),
    nearMissesFired,
    recall: episodes.length === 0 ? 1 : recalled.size / episodes.length,
  };
}
