/**
 * What the detectors read from an audit record, in one place: the shapes are documented in docs/audit.md and built
 * by access/access-audit.ts and gateway/statement-events.ts. `detail` is untyped in the record, so every read here
 * checks its type and treats anything unexpected as absent — a detector never throws on an odd event.
 */
import type { AuditRecord } from '../../audit/event.js';

export function roleOf(r: AuditRecord): string | undefined {
  return r.who.roles?.[0];
}

export function detailString(r: AuditRecord, key: string): string | undefined {
  const v = r.detail?.[key];
  return typeof v === 'string' ? v : undefined;
}

export function detailNumber(r: AuditRecord, key: string): number | undefined {
  const v = r.detail?.[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function records(value: unknown): readonly Record<string, unknown>[] {
  return Array.isArray(value)
    ? value.filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null)
    : [];
}

const COPY_TO_STDOUT = /^\s*copy\b[\s\S]*\bto\s+stdout\b/i;

export function isCopyToStdout(fingerprint: string | undefined): boolean {
  return fingerprint !== undefined && COPY_TO_STDOUT.test(fingerprint);
}

export interface ExecutedStatements {
  /** Statements forwarded to the database. */
  readonly executed: number;
  /** Guard refusal codes, one per refused statement. */
  readonly refusedCodes: readonly string[];
  /** Statement ids (or `?`) of forwarded `COPY … TO STDOUT`. */
  readonly copies: readonly string[];
}

/** `statement.execute` (one statement) or `statement.batch` (a run of them, `gateway.auditWait: queued`). */
export function executedStatements(r: AuditRecord): ExecutedStatements {
  if (r.action === 'statement.execute') {
    const refused = r.outcome === 'refused';
    const id = detailString(r, 'statementId') ?? '?';
    return {
      executed: refused ? 0 : 1,
      refusedCodes: refused ? [r.reasonCode ?? 'guard.unknown'] : [],
      copies: !refused && isCopyToStdout(r.what?.statement?.fingerprint) ? [id] : [],
    };
  }
  let executed = 0;
  const refusedCodes: string[] = [];
  const copies: string[] = [];
  for (const s of records(r.detail?.['statements'])) {
    if (typeof s['refusedBy'] === 'string') refusedCodes.push(s['refusedBy']);
    else {
      executed++;
      if (isCopyToStdout(typeof s['fingerprint'] === 'string' ? s['fingerprint'] : undefined)) {
        copies.push(typeof s['statementId'] === 'string' ? s['statementId'] : '?');
      }
    }
  }
  return { executed, refusedCodes, copies };
}

export interface CompletedResult {
  readonly statementId: string;
  /** Rows the database returned or affected (its CommandComplete), else the rows sent to the client. */
  readonly rows: number;
}

/** The results of a `statement.complete` record. */
export function completedResults(r: AuditRecord): readonly CompletedResult[] {
  return records(r.detail?.['results']).map((x) => {
    const rows =
      typeof x['rows'] === 'number' ? x['rows'] : typeof x['returned'] === 'number' ? x['returned'] : 0;
    return {
      statementId: typeof x['statementId'] === 'string' ? x['statementId'] : '?',
      rows: Number.isFinite(rows) && rows > 0 ? rows : 0,
    };
  });
}

/**
 * Patient tokens an event names: the request's or grant's patients, or — for `statement.complete` of a grant without
 * patients — those its results named (the gateway records their union in `what.patients`; statement-events.ts).
 */
export function patientTokensOf(r: AuditRecord): readonly string[] {
  return r.what?.patients ?? [];
}
