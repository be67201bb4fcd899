/**
 * The accounting of disclosures (45 CFR 164.528): for one patient, every access to their records that phigate
 * granted or carried — when, who, what, why — from the events that carry the patient's token. Refused attempts are
 * not disclosures; they are counted in the summary so an auditor sees them.
 *
 * Three renderings: text for a terminal (every value made visible-safe), JSON (bidirectional and C1 controls written
 * as \u escapes: lib/inert-json.ts), and a self-contained printable HTML page (every value HTML-escaped, no script).
 * Each entry keeps its sequence number, so any line of the report can be proven with `phigate audit proof SEQ`.
 */
import { inertJson } from '../../lib/inert-json.js';
import type { StoredAuditEvent } from '../event.js';
import { escapeHtml, visible } from './safe-text.js';

export const DISCLOSURE_FORMATS = ['json', 'text', 'html'] as const;
export type DisclosureFormat = (typeof DISCLOSURE_FORMATS)[number];

/**
 * Actions that are disclosures when they succeed: access granted or data read. (A `statement.complete` is one too,
 * for the statements whose results held the patient's id: see `returnedPatient`.)
 */
const DISCLOSING = new Set(['grant.activate', 'session.open', 'statement.execute', 'statement.batch']);

/** The statements a gateway record carries: one (`statement.execute`) or a run of them (`statement.batch`). */
function statementsOf(r: StoredAuditEvent['record']): string | undefined {
  const one = r.what?.statement?.fingerprint;
  if (one !== undefined) return one;
  const run = (r.detail as { statements?: { fingerprint?: unknown; refusedBy?: unknown }[] } | undefined)
    ?.statements;
  if (!Array.isArray(run)) return undefined;
  // A run that mixes refused statements with forwarded ones is recorded as refused; the forwarded ones disclosed.
  const fingerprints = run
    .filter((s) => s.refusedBy === undefined)
    .map((s) => s.fingerprint)
    .filter((f): f is string => typeof f === 'string');
  return fingerprints.length > 0 ? fingerprints.join('; ') : undefined;
}

/**
 * The statements of a `statement.complete` record whose results held the patient's id (a grant that names no
 * patients is accounted for from what its statements returned); undefined when none did.
 */
function returnedPatient(r: StoredAuditEvent['record'], token: string): string | undefined {
  if (r.action !== 'statement.complete') return undefined;
  const results = (r.detail as { results?: { fingerprint?: unknown; patients?: unknown }[] } | undefined)
    ?.results;
  if (!Array.isArray(results)) return undefined;
  const fingerprints = results
    .filter((x) => Array.isArray(x.patients) && x.patients.includes(token))
    .map((x) => x.fingerprint)
    .filter((f): f is string => typeof f === 'string');
  return fingerprints.length > 0 ? fingerprints.join('; ') : undefined;
}

const PURPOSES: Readonly<Record<string, string>> = {
  TREAT: 'treatment',
  ETREAT: 'emergency treatment',
  BTG: 'break the glass',
  HPAYMT: 'payment',
  HOPERAT: 'health care operations',
  HQUALIMP: 'quality improvement',
  HRESCH: 'research',
  PUBHLTH: 'public health',
  HMARKT: 'marketing',
  COVERAGE: 'coverage',
  PATRQT: 'at the patient’s request',
  HSYSADMIN: 'system administration',
};

export interface DisclosureInput {
  /** What the auditor typed: shown in the report's header only, never stored in the log. */
  readonly patientLabel: string;
  readonly patientToken: string;
  readonly from?: Date | undefined;
  readonly to?: Date | undefined;
  readonly origin: string;
  readonly events: readonly StoredAuditEvent[];
  readonly truncated: boolean;
  readonly generatedAt?: Date;
}

export interface DisclosureEntry {
  readonly seq: number;
  readonly date: string;
  readonly who: string;
  readonly whoName: string | undefined;
  readonly action: string;
  readonly resource: string | undefined;
  readonly requestId: string | undefined;
  readonly what: string | undefined;
  readonly purposeOfUse: string | undefined;
  readonly purpose: string | undefined;
  readonly justification: string | undefined;
  readonly emergency: boolean;
  readonly approvers: readonly string[];
}

export interface DisclosureReport {
  readonly patient: string;
  readonly patientToken: string;
  readonly from: string | undefined;
  readonly to: string | undefined;
  readonly origin: string;
  readonly generatedAt: string;
  readonly entries: readonly DisclosureEntry[];
  readonly summary: {
    readonly disclosures: number;
    readonly refusedAttempts: number;
    readonly firstSeq: number | undefined;
    readonly lastSeq: number | undefined;
    readonly truncated: boolean;
  };
}

export function disclosureReport(input: DisclosureInput): DisclosureReport {
  const entries = input.events
    .filter(
      (e) =>
        (DISCLOSING.has(e.record.action) &&
          (e.record.outcome === 'success' ||
            (e.record.action === 'statement.batch' && statementsOf(e.record) !== undefined))) ||
        returnedPatient(e.record, input.patientToken) !== undefined,
    )
    .map((e): DisclosureEntry => {
      const r = e.record;
      const statement = statementsOf(r) ?? returnedPatient(r, input.patientToken);
      const tables = r.what?.tables?.join(', ');
      return {
        seq: e.seq,
        date: r.recordedAt,
        who: r.who.actor,
        whoName: r.who.name,
        action: r.action,
        resource: r.what?.resource,
        requestId: r.what?.requestId,
        what:
          statement ??
          (tables ? `tables ${tables}` : r.who.roles?.length ? `role ${r.who.roles.join(', ')}` : undefined),
        purposeOfUse: r.why?.purposeOfUse,
        purpose: r.why?.purposeOfUse ? (PURPOSES[r.why.purposeOfUse] ?? r.why.purposeOfUse) : undefined,
        justification: r.why?.justification,
        emergency: r.why?.emergency === true,
        approvers: r.who.approvers ?? [],
      };
    });
  return {
    patient: input.patientLabel,
    patientToken: input.patientToken,
    from: input.from?.toISOString(),
    to: input.to?.toISOString(),
    origin: input.origin,
    generatedAt: (input.generatedAt ?? new Date()).toISOString(),
    entries,
    summary: {
      disclosures: entries.length,
      refusedAttempts: input.events.filter((e) => e.record.outcome === 'refused').length,
      firstSeq: input.events[0]?.seq,
      lastSeq: input.events.at(-1)?.seq,
      truncated: input.truncated,
    },
  };
}

const period = (r: DisclosureReport): string => `${r.from ?? 'the beginning'} to ${r.to ?? r.generatedAt}`;

export function renderDisclosuresText(r: DisclosureReport): string {
  const lines = [
    `Accounting of disclosures for patient ${visible(r.patient)}`,
    `Period: ${period(r)}    Log: ${visible(r.origin)}    Generated: ${r.generatedAt}`,
    '',
  ];
  if (r.entries.length === 0) lines.push('No disclosures in this period.');
  for (const e of r.entries) {
    lines.push(
      `${e.date}  #${e.seq}  ${visible(e.whoName ?? e.who)} (${visible(e.who)})${e.emergency ? '  EMERGENCY ACCESS' : ''}`,
      `    what:    ${visible(e.action)}${e.resource ? ` on ${visible(e.resource)}` : ''}${e.what ? `: ${visible(e.what)}` : ''}`,
      `    purpose: ${visible(e.purposeOfUse ?? '-')}${e.purpose && e.purpose !== e.purposeOfUse ? ` (${visible(e.purpose)})` : ''}` +
        `${e.justification ? ` — ${visible(e.justification)}` : ''}`,
      ...(e.approvers.length > 0 ? [`    approved by: ${e.approvers.map(visible).join(', ')}`] : []),
    );
  }
  lines.push(
    '',
    `${r.summary.disclosures} disclosure(s); ${r.summary.refusedAttempts} refused attempt(s) not listed.` +
      (r.summary.truncated ? ' The report was cut at its size limit: narrow the period.' : ''),
    'Every line can be proven against the signed log with `phigate audit proof SEQ`.',
  );
  return `${lines.join('\n')}\n`;
}

export function renderDisclosuresHtml(r: DisclosureReport): string {
  const rows = r.entries
    .map(
      (e) =>
        `<tr${e.emergency ? ' class="emergency"' : ''}><td>${escapeHtml(e.date)}</td><td>${e.seq}</td>` +
        `<td>${escapeHtml(e.whoName ?? e.who)}<br><small>${escapeHtml(e.who)}</small></td>` +
        `<td>${escapeHtml(e.action)}${e.resource ? ` on ${escapeHtml(e.resource)}` : ''}` +
        `${e.what ? `<br><small>${escapeHtml(e.what)}</small>` : ''}</td>` +
        `<td>${escapeHtml(e.purposeOfUse ?? '')}${e.purpose ? `<br><small>${escapeHtml(e.purpose)}</small>` : ''}</td>` +
        `<td>${escapeHtml(e.justification ?? '')}${e.emergency ? '<br><strong>emergency access</strong>' : ''}</td>` +
        `<td>${e.approvers.map(escapeHtml).join('<br>')}</td></tr>`,
    )
    .join('\n');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Accounting of disclosures</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#111}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #999;padding:.4em;text-align:left;vertical-align:top}
th{background:#eee}small{color:#555}tr.emergency td{background:#fff3f0}
@media print{body{margin:1cm}a{color:inherit}}
</style></head>
<body>
<h1>Accounting of disclosures</h1>
<p>Patient: <strong>${escapeHtml(r.patient)}</strong><br>Period: ${escapeHtml(period(r))}<br>Generated: ${escapeHtml(r.generatedAt)}</p>
${
  r.entries.length === 0
    ? '<p>No disclosures in this period.</p>'
    : `<table><thead><tr><th>Date (UTC)</th><th>Seq</th><th>Who</th><th>What</th><th>Purpose</th><th>Justification</th><th>Approved by</th></tr></thead>
<tbody>
${rows}
</tbody></table>`
}
<p>${r.summary.disclosures} disclosure(s); ${r.summary.refusedAttempts} refused attempt(s) not listed.${r.summary.truncated ? ' The report was cut at its size limit.' : ''}</p>
<footer><small>Generated from the tamper-evident audit log “${escapeHtml(r.origin)}”${
    r.summary.firstSeq !== undefined ? `, events ${r.summary.firstSeq}–${r.summary.lastSeq}` : ''
  }. Each entry can be proven against the signed log with <code>phigate audit proof SEQ</code>.</small></footer>
</body></html>
`;
}

export function renderDisclosures(
  format: DisclosureFormat,
  input: DisclosureInput,
): { contentType: string; body: string } {
  const report = disclosureReport(input);
  if (format === 'html')
    return { contentType: 'text/html; charset=utf-8', body: renderDisclosuresHtml(report) };
  if (format === 'text')
    return { contentType: 'text/plain; charset=utf-8', body: renderDisclosuresText(report) };
  return { contentType: 'application/json; charset=utf-8', body: `${inertJson(JSON.stringify(report))}\n` };
}
