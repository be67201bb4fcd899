/**
 * Which channels an alert goes to: the union of the channels of every route that matches its kind and severity. A
 * route without `kinds` matches every kind; `minSeverity` keeps that severity and those above it.
 */
import { severityRank, type AlertSeverity } from './alert-kinds.js';

export interface AlertRoute {
  readonly kinds?: readonly string[] | undefined;
  readonly minSeverity?: AlertSeverity | undefined;
  readonly channels: readonly string[];
}

export function channelsFor(
  routes: readonly AlertRoute[],
  alert: { readonly kind: string; readonly severity: AlertSeverity },
): string[] {
  const chosen = new Set<string>();
  for (const route of routes) {
    if (route.kinds !== undefined && !route.kinds.includes(alert.kind)) continue;
    if (route.minSeverity !== undefined && severityRank(alert.severity) < severityRank(route.minSeverity))
      continue;
    for (const channel of route.channels) chosen.add(channel);
  }
  return [...chosen].sort();
}
