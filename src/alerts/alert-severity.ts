/** Alert severities, shared by the detectors (pure) and delivery: the lowest layer of `src/alerts/`. */
export const ALERT_SEVERITIES = ['info', 'warning', 'critical'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];
