/**
 * The accounting of disclosures (45 CFR 164.528) for one patient, from the events that carry the patient's token
 * (and those every patient's accounting must show). The definition it holds (audit/disclosures.ts): a statement
 * **discloses** a patient when rows it returned to the client were derived from that patient's rows. So:
 *
 * - `entries`: each statement execution that disclosed the patient, once — whatever protocol messages it took (a
 *   Parse, a Describe, several Executes of one portal) — with date, who, purpose, grant, the tables it read and its
 *   fingerprint (which names the columns), the patient read from the rows returned (`result`).
 * - `unattributed`: statements whose rows could not be tied to patients (no key in the result, derived keys,
 *   aggregates, COPY, …) and that could reach this patient: those of a patient-scoped grant of theirs
 *   (`grant-scope`), and those of every grant that names no patients (`unattributed`). Each says why. Aggregates are
 *   disclosures of the patients they aggregate: they are here, for every patient they could have aggregated.
 * - `accessGranted`: the grants and sessions that could reach the patient's rows — context, not disclosures.
 *
 * Statements that read no PHI table, returned no row, or failed before any row are not disclosures. Refused attempts
 * are counted in the summary. Three renderings: text for a terminal (every value made visible-safe), JSON
 * (bidirectional and C1 controls written as \u escapes: lib/inert-json.ts), and a self-contained printable HTML page (every value HTML-escaped, no script). Each entry keeps its sequence number, so
 * any line of the report can be proven with `phigate audit proof SEQ`.
 */
import { inertJson } from '../../lib/inert-json.js';
import { actionsAccountedAs, type AuditAction } from '../actions.js';
import {
  UNATTRIBUTED_REASONS,
  type DisclosureBasis,
  type RecordedDisclosure,
  type UnattributedReason,
} from '../disclosures.js';
import type { StoredAuditEvent } from '../event.js';
import { escapeHtml, visible } from './safe-text.js';

export const DISCLOSURE_FORMATS = ['json', 'text', 'html'] as const;
export type DisclosureFormat = (typeof DISCLOSURE_FORMATS)[number];

/** Events that granted access to the patient's rows (listed apart: access, not disclosure). */
const ACCESS_GRANTED = actionsAccountedAs('access');
/** Events whose results say which patients each statement disclosed (`detail.results[].disclosure`). */
const DISCLOSING = actionsAccountedAs('disclosure');

interface RecordedResult {
  readonly statementId?: unknown;
  readonly run?: unknown;
  readonly fingerprint?: unknown;
  readonly disclosure?: RecordedDisclosure;
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
  readonly action: AuditAction;
  readonly resource: string | undefined;
  readonly requestId: string | undefined;
  /** The gateway session and the statement in it (the first Execute of a portal run in several). */
  readonly sessionId: string | undefined;
  readonly statementId: number | undefined;
  /** The statement's fingerprint, or for access granted the role. */
  readonly what: string | undefined;
  /** PHI tables the statement read. */
  readonly tables: readonly string[];
  /** How the patient was determined (statements only). */
  readonly basis: DisclosureBasis | undefined;
  /** Why the statement's rows could not be tied to patients, when they could not. */
  readonly reasonCode: UnattributedReason | undefined;
  readonly reason: string | undefined;
  readonly purposeOfUse: string | undefined;
  readonly purpose: string | undefined;
  readonly justification: string | undefined;
  readonly emergency: boolean;
  readonly approvers: readonly string[];
  /** The approvers as a reader knows them: display names, index for index (the account where none was recorded). */
  readonly approvedBy: readonly string[];
}

export interface DisclosureReport {
  readonly patient: string;
  readonly patientToken: string;
  readonly from: string | undefined;
  readonly to: string | undefined;
  readonly origin: string;
  readonly generatedAt: string;
  /** Statements that disclosed the patient, each once. */
  readonly entries: readonly DisclosureEntry[];
  /** Statements that could not be attributed to patients and could have disclosed this one (with why). */
  readonly unattributed: readonly DisclosureEntry[];
  /** Grants and sessions that could reach the patient's rows. */
  readonly accessGranted: readonly DisclosureEntry[];
  readonly summary: {
    readonly disclosures: number;
    readonly unattributed: number;
    readonly refusedAttempts: number;
    readonly firstSeq: number | undefined;
    readonly lastSeq: number | undefined;
    readonly truncated: boolean;
  };
}

type Common = Omit<
  DisclosureEntry,
  'action' | 'statementId' | 'what' | 'tables' | 'basis' | 'reasonCode' | 'reason'
>;

function common(e: StoredAuditEvent): Common {
  const r = e.record;
  return {
    seq: e.seq,
    date: r.recordedAt,
    who: r.who.actor,
    whoName: r.who.name,
    resource: r.what?.resource,
    requestId: r.what?.requestId,
    sessionId: r.how?.sessionId,
    purposeOfUse: r.why?.purposeOfUse,
    purpose: r.why?.purposeOfUse ? (PURPOSES[r.why.purposeOfUse] ?? r.why.purposeOfUse) : undefined,
    justification: r.why?.justification,
    emergency: r.why?.emergency === true,
    approvers: r.who.approvers ?? [],
    approvedBy: (r.who.approvers ?? []).map((id, i) => r.who.approverNames?.[i] ?? id),
  };
}

/** How a recorded statement relates to the patient: a basis, or undefined when it did not disclose them. */
function basisOf(
  r: StoredAuditEvent['record'],
  d: RecordedDisclosure,
  token: string,
): DisclosureBasis | undefined {
  if (d.patients?.includes(token) === true) return 'result';
  if (d.unattributed === undefined) return undefined;
  const scoped = (r.detail as { patientScope?: unknown } | undefined)?.patientScope === true;
  if (!scoped) return 'unattributed';
  return r.what?.patients?.includes(token as never) === true ? 'grant-scope' : undefined;
}

export function disclosureReport(input: DisclosureInput): DisclosureReport {
  const entries: DisclosureEntry[] = [];
  const unattributed: DisclosureEntry[] = [];
  const accessGranted: DisclosureEntry[] = [];
  // One entry per statement execution: a portal's Executes, or a completion seen twice, are one.
  const seen = new Map<string, DisclosureEntry>();
  for (const e of input.events) {
    const r = e.record;
    if (ACCESS_GRANTED.has(r.action) && r.outcome === 'success') {
      if (r.what?.patients?.includes(input.patientToken as never) !== true) continue;
      accessGranted.push({
        ...common(e),
        action: r.action,
        statementId: undefined,
        what: r.who.roles?.length ? `role ${r.who.roles.join(', ')}` : undefined,
        tables: r.what?.tables ?? [],
        basis: undefined,
        reasonCode: undefined,
        reason: undefined,
      });
      continue;
    }
    if (!DISCLOSING.has(r.action)) continue;
    const results = (r.detail as { results?: RecordedResult[] } | undefined)?.results;
    if (!Array.isArray(results)) continue;
    for (const x of results) {
      const d = x.disclosure;
      if (d === undefined || typeof x.statementId !== 'number') continue;
      const basis = basisOf(r, d, input.patientToken);
      if (basis === undefined) continue;
      const statementId = typeof x.run === 'number' ? x.run : x.statementId;
      const key = `${r.how?.sessionId ?? e.seq}:${statementId}`;
      const earlier = seen.get(key);
      // A later Execute of the same portal may name the patient where an earlier one could not: keep the surer.
      if (earlier !== undefined && (earlier.basis === 'result' || basis !== 'result')) continue;
      const entry: DisclosureEntry = {
        ...common(e),
        action: r.action,
        statementId,
        what: typeof x.fingerprint === 'string' ? x.fingerprint : undefined,
        tables: Array.isArray(d.tables) ? d.tables : [],
        basis,
        reasonCode: basis === 'result' ? undefined : d.unattributed,
        reason:
          basis === 'result' || d.unattributed === undefined
            ? undefined
            : (UNATTRIBUTED_REASONS[d.unattributed] ?? d.unattributed),
      };
      if (earlier !== undefined) {
        const list = earlier.basis === 'result' ? entries : unattributed;
        list.splice(list.indexOf(earlier), 1);
      }
      seen.set(key, entry);
      (basis === 'result' ? entries : unattributed).push(entry);
    }
  }
  return {
    patient: input.patientLabel,
    patientToken: input.patientToken,
    from: input.from?.toISOString(),
    to: input.to?.toISOString(),
    origin: input.origin,
    generatedAt: (input.generatedAt ?? new Date()).toISOString(),
    entries,
    unattributed,
    accessGranted,
    summary: {
      disclosures: entries.length,
      unattributed: unattributed.length,
      refusedAttempts: input.events.filter(
        (e) =>
          e.record.outcome === 'refused' &&
          e.record.what?.patients?.includes(input.patientToken as never) === true,
      ).length,
      firstSeq: input.events[0]?.seq,
      lastSeq: input.events.at(-1)?.seq,
      truncated: input.truncated,
    },
  };
}

const BASIS_TEXT: Readonly<Record<DisclosureBasis, string>> = {
  result: 'read from the rows returned',
  'grant-scope': 'the grant’s patients (its rows could not be keyed)',
  unattributed: 'could not be attributed',
};

const period = (r: DisclosureReport): string => `${r.from ?? 'the beginning'} to ${r.to ?? r.generatedAt}`;

export function renderDisclosuresText(r: DisclosureReport): string {
  const lines = [
    `Accounting of disclosures for patient ${visible(r.patient)}`,
    `Period: ${period(r)}    Log: ${visible(r.origin)}    Generated: ${r.generatedAt}`,
    'A statement discloses the patient when rows it returned were derived from the patient’s rows (aggregates included).',
    '',
  ];
  const entry = (e: DisclosureEntry): string[] => [
    `${e.date}  #${e.seq}  ${visible(e.whoName ?? e.who)} (${visible(e.who)})${e.emergency ? '  EMERGENCY ACCESS' : ''}`,
    `    what:    ${e.statementId !== undefined ? 'statement' : visible(e.action)}${e.resource ? ` on ${visible(e.resource)}` : ''}${e.what ? `: ${visible(e.what)}` : ''}`,
    ...(e.tables.length > 0 ? [`    tables:  ${e.tables.map(visible).join(', ')}`] : []),
    ...(e.basis !== undefined
      ? [`    patient: ${BASIS_TEXT[e.basis]}${e.reason ? ` — ${visible(e.reason)}` : ''}`]
      : []),
    `    purpose: ${visible(e.purposeOfUse ?? '-')}${e.purpose && e.purpose !== e.purposeOfUse ? ` (${visible(e.purpose)})` : ''}` +
      `${e.justification ? ` — ${visible(e.justification)}` : ''}`,
    ...(e.requestId ? [`    grant:   ${visible(e.requestId)}`] : []),
    ...(e.approvedBy.length > 0 ? [`    approved by: ${e.approvedBy.map(visible).join(', ')}`] : []),
  ];
  lines.push('Disclosures');
  if (r.entries.length === 0) lines.push('  No disclosures in this period.');
  for (const e of r.entries) lines.push(...entry(e));
  lines.push(
    '',
    'Statements that could not be attributed to patients (they may have disclosed this patient)',
  );
  if (r.unattributed.length === 0) lines.push('  None.');
  for (const e of r.unattributed) lines.push(...entry(e));
  lines.push('', 'Access granted to the patient’s records');
  if (r.accessGranted.length === 0) lines.push('  None.');
  for (const e of r.accessGranted) lines.push(...entry(e));
  lines.push(
    '',
    `${r.summary.disclosures} disclosure(s); ${r.summary.unattributed} unattributed statement(s); ` +
      `${r.summary.refusedAttempts} refused attempt(s) not listed.` +
      (r.summary.truncated ? ' The report was cut at its size limit: narrow the period.' : ''),
    'Every line can be proven against the signed log with `phigate audit proof SEQ`.',
  );
  return `${lines.join('\n')}\n`;
}

function htmlRows(list: readonly DisclosureEntry[]): string {
  return list
    .map(
      (e) =>
        `<tr${e.emergency ? ' class="emergency"' : ''}><td>${escapeHtml(e.date)}</td><td>${e.seq}</td>` +
        `<td>${escapeHtml(e.whoName ?? e.who)}<br><small>${escapeHtml(e.who)}</small></td>` +
        `<td>${escapeHtml(e.statementId !== undefined ? 'statement' : e.action)}${e.resource ? ` on ${escapeHtml(e.resource)}` : ''}` +
        `${e.what ? `<br><small>${escapeHtml(e.what)}</small>` : ''}` +
        `${e.tables.length > 0 ? `<br><small>tables: ${e.tables.map(escapeHtml).join(', ')}</small>` : ''}</td>` +
        `<td>${e.basis ? escapeHtml(BASIS_TEXT[e.basis]) : ''}${e.reason ? `<br><small>${escapeHtml(e.reason)}</small>` : ''}</td>` +
        `<td>${escapeHtml(e.purposeOfUse ?? '')}${e.purpose ? `<br><small>${escapeHtml(e.purpose)}</small>` : ''}</td>` +
        `<td>${escapeHtml(e.justification ?? '')}${e.emergency ? '<br><strong>emergency access</strong>' : ''}</td>` +
        `<td>${e.approvers.map((id, i) => `${escapeHtml(e.approvedBy[i] ?? id)}<br><small>${escapeHtml(id)}</small>`).join('<br>')}</td></tr>`,
    )
    .join('\n');
}

function htmlTable(list: readonly DisclosureEntry[], empty: string): string {
  if (list.length === 0) return `<p>${empty}</p>`;
  return `<table><thead><tr><th>Date (UTC)</th><th>Seq</th><th>Who</th><th>What</th><th>Patient determined by</th><th>Purpose</th><th>Justification</th><th>Approved by</th></tr></thead>
<tbody>
${htmlRows(list)}
</tbody></table>`;
}

export function renderDisclosuresHtml(r: DisclosureReport): string {
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
<p>A statement discloses the patient when rows it returned were derived from the patient’s rows (aggregates included).</p>
<h2>Disclosures</h2>
${htmlTable(r.entries, 'No disclosures in this period.')}
<h2>Statements that could not be attributed to patients</h2>
<p>They may have disclosed this patient: their rows could not be tied to patients, for the reason given.</p>
${htmlTable(r.unattributed, 'None.')}
<h2>Access granted to the patient’s records</h2>
${htmlTable(r.accessGranted, 'None.')}
<p>${r.summary.disclosures} disclosure(s); ${r.summary.unattributed} unattributed statement(s); ${r.summary.refusedAttempts} refused attempt(s) not listed.${r.summary.truncated ? ' The report was cut at its size limit.' : ''}</p>
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
