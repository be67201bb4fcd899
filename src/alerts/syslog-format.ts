/**
 * Syslog messages for SIEMs: RFC 5424 with the alert in structured data, or a CEF line (ArcSight Common Event
 * Format, which most SIEMs parse) as the message; framed for TLS transport by octet counting (RFC 5425 §4.3).
 */
import type { AlertSeverity } from './alert-kinds.js';
import type { AlertMessage } from './alert-message.js';

export const SYSLOG_FORMATS = ['rfc5424', 'cef'] as const;
export type SyslogFormat = (typeof SYSLOG_FORMATS)[number];

export interface SyslogHeader {
  /** Facility number 0–23 (default 10, authpriv: security/authorization). */
  readonly facility: number;
  readonly hostname: string;
  readonly appName: string;
  /** SD-ID of the structured data element, e.g. `phigate@32473` (32473 is the documentation enterprise number). */
  readonly sdId: string;
  /** phigate's version, in CEF's header. */
  readonly version: string;
}

const SYSLOG_SEVERITY: Readonly<Record<AlertSeverity, number>> = { critical: 2, warning: 4, info: 6 };
const CEF_SEVERITY: Readonly<Record<AlertSeverity, number>> = { critical: 10, warning: 6, info: 3 };

/** PRINTUSASCII without the characters SD names may not hold, bounded. */
const header = (text: string, max: number): string => {
  const cleaned = text.replace(/[^\x21-\x7e]/g, '').slice(0, max);
  return cleaned === '' ? '-' : cleaned;
};
const sdName = (text: string): string => text.replace(/[^\x21-\x7e]|[=\]"]/g, '_').slice(0, 32);
const sdValue = (text: string): string => text.replace(/[\\"\]]/g, (c) => `\\${c}`);

export function syslogMessage(format: SyslogFormat, m: AlertMessage, h: SyslogHeader): string {
  const pri = h.facility * 8 + SYSLOG_SEVERITY[m.severity];
  const head = `<${pri}>1 ${m.raisedAt} ${header(h.hostname, 255)} ${header(h.appName, 48)} - ${header(m.kind, 32)}`;
  if (format === 'cef') return `${head} - ${cefLine(m, h)}`;
  const params: [string, string][] = [
    ['id', m.messageId],
    ['alertId', String(m.alertId)],
    ['kind', m.kind],
    ['severity', m.severity],
    ...(m.requestId !== undefined ? ([['requestId', m.requestId]] as [string, string][]) : []),
    ['link', m.link],
    ...Object.entries(m.evidence).map(([k, v]): [string, string] => [`ev.${k}`, String(v)]),
  ];
  const sd = `[${sdName(h.sdId)}${params.map(([k, v]) => ` ${sdName(k)}="${sdValue(v)}"`).join('')}]`;
  return `${head} ${sd} ${m.title} (alert ${m.alertId}): ${m.link}`;
}

const cefHeader = (text: string): string => text.replace(/[\\|]/g, (c) => `\\${c}`).replace(/[\r\n]/g, ' ');
const cefValue = (text: string): string =>
  text
    .replace(/[\\=]/g, (c) => `\\${c}`)
    .replace(/\r/g, '\\r')
    .replace(/\n/g, '\\n');

export function cefLine(m: AlertMessage, h: Pick<SyslogHeader, 'version'>): string {
  const extension: [string, string][] = [
    ['rt', String(Date.parse(m.raisedAt))],
    ['externalId', m.messageId],
    ['cat', m.kind],
    ...(m.requestId !== undefined
      ? ([
          ['cs1Label', 'requestId'],
          ['cs1', m.requestId],
        ] as [string, string][])
      : []),
    ['request', m.link],
    [
      'msg',
      Object.entries(m.evidence)
        .map(([k, v]) => `${k}: ${String(v)}`)
        .join(', '),
    ],
  ];
  const fields = [
    'CEF:0',
    'phigate',
    'phigate',
    h.version,
    m.kind,
    m.title,
    String(CEF_SEVERITY[m.severity]),
  ];
  return `${fields.map(cefHeader).join('|')}|${extension.map(([k, v]) => `${k}=${cefValue(v)}`).join(' ')}`;
}

/** RFC 5425 §4.3: `MSG-LEN SP SYSLOG-MSG`, the length in octets. */
export function octetCounted(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}
