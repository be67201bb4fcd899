/**
 * CSV for spreadsheets and SIEMs that want columns. RFC 4180 with CRLF record ends, and one line per event no matter
 * what the event holds (ATTACKS 38): control characters inside fields are written as visible escapes, and a field a
 * spreadsheet would run as a formula (= + - @ tab CR first) gets a leading apostrophe.
 */
import type { StoredAuditEvent } from '../event.js';
import { visible } from './safe-text.js';

const COLUMNS = [
  'seq',
  'recorded_at',
  'action',
  'outcome',
  'reason',
  'actor',
  'actor_name',
  'roles',
  'approvers',
  'resource',
  'request_id',
  'tables',
  'columns',
  'patients',
  'purpose_of_use',
  'emergency',
  'justification',
  'ticket',
  'client_address',
  'session_id',
  'token_id',
  'policy_version',
  'statement_fingerprint',
] as const;

export const CSV_HEADER = `${COLUMNS.join(',')}\r\n`;

function field(value: string | number | boolean | readonly string[] | undefined | null): string {
  if (value === undefined || value === null) return '';
  let text = visible(Array.isArray(value) ? value.join(';') : String(value));
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvRow(event: StoredAuditEvent): string {
  const r = event.record;
  const values: Record<(typeof COLUMNS)[number], string | number | boolean | readonly string[] | undefined> =
    {
      seq: event.seq,
      recorded_at: r.recordedAt,
      action: r.action,
      outcome: r.outcome,
      reason: r.reasonCode,
      actor: r.who?.actor,
      actor_name: r.who?.name,
      roles: r.who?.roles,
      approvers: r.who?.approvers,
      resource: r.what?.resource,
      request_id: r.what?.requestId,
      tables: r.what?.tables,
      columns: r.what?.columns,
      patients: r.what?.patients,
      purpose_of_use: r.why?.purposeOfUse,
      emergency: r.why?.emergency,
      justification: r.why?.justification,
      ticket: r.why?.ticket,
      client_address: r.how?.clientAddress,
      session_id: r.how?.sessionId,
      token_id: r.how?.tokenId,
      policy_version: r.how?.policyVersion,
      statement_fingerprint: r.what?.statement?.fingerprint,
    };
  return `${COLUMNS.map((c) => field(values[c])).join(',')}\r\n`;
}
