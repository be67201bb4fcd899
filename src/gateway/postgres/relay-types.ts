/**
 * What the relay is given and gives back (relay.ts), and the statement it has audited: shared by the relay's parts
 * and by the gateway that starts it.
 */
import type { Duplex } from 'node:stream';
import type { Clock } from '../../lib/clock.js';
import type { PatientColumnOf, StatementResult } from './statement-tracker.js';

export interface StatementToAudit {
  /** Numbers the session's statements; the completion of a query or execute carries the same id. */
  readonly id: number;
  readonly kind: 'query' | 'parse' | 'execute';
  /** SQL text as sent (the auditor fingerprints and tokenizes it; it is never logged as is). */
  readonly sql: string;
  /** Bound parameters of an Execute (text format as sent; binary as bytes). */
  readonly parameters?: readonly (Buffer | null)[];
  /** Set when the guard refused the statement: it is recorded, and not run. */
  readonly refusedBy?: string;
  /**
   * The relations its text names, as the guard's parse found them (an Execute: its Parse's); undefined when not
   * known (no guard, or an EXECUTE/FETCH of something prepared earlier): it may then read anything.
   */
  readonly relations?: readonly string[] | undefined;
  /**
   * An Execute: the id of the first Execute of its portal since the Bind. A portal fetched a few rows at a time is
   * one statement execution run by several Executes; the accounting lists it once.
   */
  readonly run?: number;
}

export interface RelayOptions {
  readonly client: Duplex;
  readonly upstream: Duplex;
  /** Upstream's ParameterStatus values, passed on to the client. */
  readonly parameters: ReadonlyMap<string, string>;
  /** The cancel key the gateway hands the client (its own, never the database's). */
  readonly cancelKey: { readonly processId: number; readonly secretKey: number };
  /** Resolves once the statement's record is durable; rejects if it could not be written. */
  audit(statement: StatementToAudit): Promise<void>;
  /** Statements the gateway refuses whatever the database would allow (sql-guard.ts); none when omitted. */
  guard?(
    sql: string,
  ): Promise<
    | { readonly ok: true; readonly relations?: readonly string[] | undefined }
    | { readonly ok: false; readonly code: string; readonly reason: string }
  >;
  /**
   * What the database answered to a forwarded query or execute (rows, duration, outcome). A promise returned means
   * the client must not be told the statement is complete before it settles: the message that completes it
   * (CommandComplete of an Execute, ReadyForQuery of a Query) and everything after it wait, and a rejection ends the
   * session instead (`gateway.auditWait: durable`: the record naming the patients whose rows it returned comes first).
   */
  completed?(statement: StatementToAudit, result: StatementResult): Promise<void> | undefined;
  /** Columns naming patients: the patients a statement returned are then read from its result. */
  readonly patientColumnOf?: PatientColumnOf;
  readonly endsAt: Date;
  readonly grantLabel: string;
  /** The gateway's injected clock, for the grant's end; the system clock when omitted. */
  readonly clock?: Clock | undefined;
  /** Automatic logoff: the session is closed after this long without a client message while nothing runs. */
  readonly idleTimeoutMs?: number;
  /**
   * Asked when the database terminates the session itself (FATAL 57P01: another replica ended the grant and
   * terminated its backends before this one heard of it): the grant's end if it has ended, so that the client is
   * told which grant ended and when rather than seeing the database's bare shutdown message.
   */
  whyTerminated?(): Promise<{ readonly reason: string; readonly endedAt: Date } | undefined>;
  /** Called once when the session ends, for whatever reason ('grant-ended', 'client-closed', 'upstream-closed', 'error'). */
  onEnd(reason: string): void;
}

export interface RelaySession {
  /** Cuts the session now (the grant was revoked, or ended on another replica); `message` replaces the default. */
  cut(reason: string, endedAt: Date, message?: string): void;
  /** Statements forwarded whose answer has not come back yet. */
  readonly running: number;
  readonly ended: Promise<string>;
}
