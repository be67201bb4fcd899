/** The e-mail of an alert: a subject that sorts and filters well, and a plain-text body with the link. */
import type { AlertMessage } from './alert-message.js';

export function emailSubject(m: AlertMessage): string {
  return `[phigate] ${m.severity.toUpperCase()}: ${m.title} (alert ${m.alertId})`;
}

export function emailText(m: AlertMessage): string {
  const lines = [
    `${m.title}.`,
    '',
    `Alert:     ${m.alertId} (${m.kind}, ${m.severity})`,
    `Raised at: ${m.raisedAt}`,
    ...(m.requestId !== undefined ? [`Request:   ${m.requestId}`] : []),
    ...Object.entries(m.evidence).map(([k, v]) => `${`${k}:`.padEnd(10)} ${String(v)}`),
    '',
    `Open in phigate (sign-in required): ${m.link}`,
    '',
    'This message carries no patient information; the details are in phigate.',
  ];
  return `${lines.join('\n')}\n`;
}
