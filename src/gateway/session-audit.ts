/**
 * One gateway session's audit trail: its opening, each statement before it is forwarded, the database's answers,
 * its end. Two ways to wait before forwarding (`gateway.auditWait`):
 *
 * - `durable` (default): the statement's record is committed and flushed to disk first. Nothing runs that a crash
 *   could leave unrecorded; each statement waits for a WAL flush (about a millisecond or two).
 * - `queued`: the record is queued in phigate and the statement goes on at once; a session's queued statements are
 *   written together (`statement.batch`, every 5 ms or 100 statements) and are durable a few milliseconds later. A
 *   crash of phigate or its store in that window can lose the records of the last statements. While the writer is
 *   failing or far behind, statements are refused; a record that then fails to commit ends the session (`onLost`),
 *   so the gateway never keeps relaying without an audit trail.
 *
 * Completions are gathered per session and written together (at most every 250 ms, 200 at a time, and at the end).
 * A completion that disclosed PHI (disclosure.ts) is the record that names the patients whose rows came back: in
 * `durable` mode it is written at once and the client is not told the statement completed until it is durable (the
 * relay holds the completing message); in `queued` mode it waits with the others, up to 250 ms, and a crash in that
 * window loses it — docs/minimum-necessary.md measures the window.
 */
import type { AuditWriter } from '../audit/audit-writer.js';
import { resolveDisclosure, type Disclosure, type KeysOf } from './disclosure.js';
import { PhigateError } from '../lib/errors.js';
import type { StatementResult } from './postgres/statement-tracker.js';
import type { StatementToAudit } from './postgres/relay.js';
import type { SessionContext, StatementEvents } from './statement-events.js';

export type AuditWait = 'durable' | 'queued';

/** Queued records beyond which statements are refused rather than let the log fall further behind. */
const MAX_BACKLOG = 50_000;
const COMPLETIONS_PER_EVENT = 200;
/** Patient tokens one completion record may hold before it is written (records stay a bounded size). */
const PATIENTS_PER_EVENT = 5_000;
const COMPLETION_DELAY_MS = 250;
const STATEMENTS_PER_EVENT = 100;
const STATEMENT_DELAY_MS = 5;

export interface SessionAudit {
  statement(statement: StatementToAudit): Promise<void>;
  /** A promise when the client must wait for the record (a disclosure, in `durable` mode). */
  completed(statement: StatementToAudit, result: StatementResult): Promise<void> | undefined;
  /** Writes what is gathered and the session's end. */
  close(reason: string, detail: Record<string, unknown>): Promise<void>;
}

export function createSessionAudit(deps: {
  readonly writer: Pick<AuditWriter, 'append' | 'backlog' | 'healthy'>;
  readonly events: StatementEvents;
  readonly context: SessionContext;
  readonly wait: AuditWait;
  /** Whether, and what, a completed statement disclosed; none when omitted. */
  readonly disclosureOf?: (statement: StatementToAudit, result: StatementResult) => Disclosure | undefined;
  /** The patient keys behind values of patient columns. */
  readonly keysOf?: KeysOf;
  readonly now: () => Date;
  /** A queued record could not be committed: the session must end. */
  readonly onLost: () => void;
  readonly onError: (err: unknown) => void;
}): SessionAudit {
  type Done = {
    statement: StatementToAudit;
    result: StatementResult;
    disclosure: Disclosure | undefined;
  };
  let done: Done[] = [];
  const noKeys: KeysOf = () => Promise.reject(new Error('no patient key look-up'));
  let donePatients = 0;
  let timer: NodeJS.Timeout | undefined;
  let queued: { statement: StatementToAudit; at: Date }[] = [];
  let queuedTimer: NodeJS.Timeout | undefined;
  const writeStatements = (): void => {
    clearTimeout(queuedTimer);
    queuedTimer = undefined;
    if (queued.length === 0) return;
    const batch = queued;
    queued = [];
    deps.writer.append([deps.events.statements(deps.context, batch)]).catch((err: unknown) => {
      deps.onError(err);
      deps.onLost();
    });
  };
  const writeCompletions = (): Promise<void> => {
    clearTimeout(timer);
    timer = undefined;
    if (done.length === 0) return Promise.resolve();
    const batch = done;
    done = [];
    donePatients = 0;
    // This record is the only one that says whose rows came back: losing it ends the session, as a lost statement
    // record does.
    const accountable = batch.some((d) => d.disclosure !== undefined);
    const written = (async () => {
      const resolved = await Promise.all(
        batch.map(async (d) => ({
          statement: d.statement,
          result: d.result,
          disclosure:
            d.disclosure === undefined
              ? undefined
              : await resolveDisclosure(d.disclosure, deps.keysOf ?? noKeys),
        })),
      );
      await deps.writer.append([deps.events.completions(deps.context, resolved)]);
    })();
    written.catch((err: unknown) => {
      deps.onError(err);
      if (accountable) deps.onLost();
    });
    return written;
  };
  return {
    async statement(statement) {
      if (deps.wait === 'durable') {
        await deps.writer.append([deps.events.statement(deps.context, statement)]);
        return;
      }
      if (!deps.writer.healthy || deps.writer.backlog > MAX_BACKLOG) {
        throw new PhigateError('unavailable', 'audit.unavailable', 'the audit log is not keeping up');
      }
      queued.push({ statement, at: deps.now() });
      if (queued.length >= STATEMENTS_PER_EVENT) writeStatements();
      else queuedTimer ??= setTimeout(writeStatements, STATEMENT_DELAY_MS);
    },
    completed(statement, result) {
      const disclosure = deps.disclosureOf?.(statement, result);
      done.push({ statement, result, disclosure });
      for (const values of disclosure?.refs?.values() ?? []) donePatients += values.length;
      if (disclosure !== undefined && deps.wait === 'durable') return writeCompletions();
      if (done.length >= COMPLETIONS_PER_EVENT || donePatients >= PATIENTS_PER_EVENT) void writeCompletions();
      else timer ??= setTimeout(() => void writeCompletions(), COMPLETION_DELAY_MS);
      return undefined;
    },
    async close(reason, detail) {
      writeStatements();
      await writeCompletions().catch(() => undefined);
      await deps.writer.append([deps.events.sessionClosed(deps.context, reason, detail)]);
    },
  };
}
