/**
 * The client's side of a relayed session: each message framed and decoded, in arrival order; each statement guarded
 * (refused ones recorded, not run) and audited BEFORE it is forwarded — if the audit cannot be written the client gets
 * an error and nothing reaches the database — then forwarded with the rest of its chunk.
 */
import { errorResponse, readyForQuery } from './backend-messages.js';
import { decodeFrontend, type FrontendMessage } from './frontend-messages.js';
import { MessageFramer } from './message-framer.js';
import { ProtocolError } from './protocol-error.js';
import type { HeldWrites } from './relay-held-writes.js';
import type { RelayLifetime } from './relay-lifetime.js';
import type { PreparedStatements } from './relay-prepared.js';
import type { RelayOptions, StatementToAudit } from './relay-types.js';
import type { StatementTracker } from './statement-tracker.js';

/**
 * Extended-protocol messages that can fail, and whose batch must then end with a Sync before anything else is
 * relayed (Close and Flush cannot fail: clients send Close before a simple Query, and that is fine).
 */
const EXTENDED = new Set(['parse', 'bind', 'describe', 'execute']);

/** Messages the server answers: what the relay holds back is written out at each. */
const ANSWERED_AT = new Set(['sync', 'flush', 'query', 'function-call', 'copy-done', 'copy-fail']);

export interface ClientSideOptions {
  readonly relay: Pick<RelayOptions, 'client' | 'audit' | 'guard'>;
  readonly life: RelayLifetime;
  readonly held: HeldWrites;
  readonly prepared: PreparedStatements;
  readonly tracker: Pick<StatementTracker, 'started' | 'sync'>;
  /** Statements forwarded and not yet answered, by id (the server's side takes them off). */
  readonly inFlight: Map<number, StatementToAudit>;
  /** The transaction status the server last reported, for the ReadyForQuery the gateway sends itself. */
  readonly transactionStatus: () => 'I' | 'T' | 'E';
}

/** The client's side of one session (startRelay makes it; its messages arrive through `onData`). */
export class ClientSide {
  private readonly framer = new MessageFramer();
  // Client messages are handled strictly in order: one audit at a time, forwarding in arrival order.
  private chain: Promise<void> = Promise.resolve();
  // After an extended-protocol statement is refused, the protocol wants everything up to Sync discarded.
  private skippingUntilSync = false;
  // Extended-protocol messages were forwarded since the last Sync.
  private batchOpen = false;
  private nextId = 1;

  constructor(private readonly o: ClientSideOptions) {
    this.framer.startTyped();
  }

  onData(chunk: Buffer): void {
    const { client } = this.o.relay;
    const { life, held } = this.o;
    let frames;
    try {
      frames = this.framer.push(chunk);
    } catch (err) {
      const e = err instanceof ProtocolError ? err : new ProtocolError('unreadable message');
      client.write(errorResponse({ severity: 'FATAL', code: e.sqlState, message: e.message }));
      life.finish('error');
      return;
    }
    if (frames.length === 0) return;
    for (const f of frames) {
      this.chain = this.chain
        .then(() => this.handle(f.type!, f.raw, f.body))
        .catch((err: unknown) => {
          // A message the gateway cannot name or read is a protocol violation: say so, forward nothing, close.
          if (err instanceof ProtocolError && !life.finished)
            client.write(errorResponse({ severity: 'FATAL', code: err.sqlState, message: err.message }));
          life.finish('error');
        });
    }
    this.chain = this.chain.then(() => held.flush());
  }

  private async handle(type: number, raw: Buffer, body: Buffer): Promise<void> {
    const { life } = this.o;
    if (life.finished) return;
    if (life.cutIfGrantOver()) return;
    life.touched();
    const message = decodeFrontend(type, body);
    if (this.skippingUntilSync) {
      if (message.type !== 'sync') return;
      this.skippingUntilSync = false;
      this.o.relay.client.write(readyForQuery(this.o.transactionStatus()));
      return;
    }
    // PostgreSQL would skip a Query sent within an extended batch that failed, its answers then out of step with
    // what was asked; no client does this, and what cannot be tracked is not relayed.
    if ((message.type === 'query' || message.type === 'function-call') && this.batchOpen)
      throw new ProtocolError(
        'a simple Query within an unfinished extended-protocol batch (no Sync yet) is not relayed',
      );
    let statement = this.o.prepared.statementOf(message, () => this.nextId++);
    if (message.type === 'terminate') return life.finish('client-closed', raw);
    if (statement) {
      statement = await this.clear(statement, message);
      if (statement === undefined) return;
    }
    this.forward(message, statement, raw);
  }

  /** Guards and audits a statement; what may be forwarded, or undefined (refused, or the session ended meanwhile). */
  private async clear(
    statement: StatementToAudit,
    message: FrontendMessage,
  ): Promise<StatementToAudit | undefined> {
    const { relay, life } = this.o;
    if (message.type === 'function-call') {
      await relay.audit({ ...statement, refusedBy: 'guard.function-call' }).catch(() => undefined);
      this.refuse(
        statement,
        '0A000',
        'the FunctionCall protocol message is not relayed by phigate: call the function with SELECT',
      );
      return undefined;
    }
    let cleared = statement;
    if (statement.kind !== 'execute' && relay.guard) {
      const verdict = await relay.guard(statement.sql);
      if (!verdict.ok) {
        // Recorded if it can be; refused either way. The session stays usable.
        await relay.audit({ ...statement, refusedBy: verdict.code }).catch(() => undefined);
        this.refuse(statement, '42501', verdict.reason);
        return undefined;
      }
      cleared = { ...statement, relations: verdict.relations };
    }
    try {
      await relay.audit(cleared);
    } catch {
      // Fail closed: the statement is not forwarded. The session stays usable, as after any error.
      this.refuse(cleared, '58000', 'the audit log is unavailable: the statement was not run');
      return undefined;
    }
    if (life.finished) return undefined;
    // The audit may have waited past the grant's end: nothing is forwarded after it, whatever the timer's turn.
    if (life.cutIfGrantOver()) return undefined;
    return cleared;
  }

  /** Holds a cleared message for the server, tracking what it starts. */
  private forward(message: FrontendMessage, statement: StatementToAudit | undefined, raw: Buffer): void {
    const { tracker, prepared, held } = this.o;
    if (statement && statement.kind !== 'parse') {
      this.o.inFlight.set(statement.id, statement);
      tracker.started(
        statement.kind,
        statement.id,
        message.type === 'execute' ? prepared.portalShape(message.portal) : undefined,
      );
    }
    prepared.remember(message, statement?.relations);
    if (message.type === 'sync') {
      tracker.sync();
      this.batchOpen = false;
    } else if (EXTENDED.has(message.type)) this.batchOpen = true;
    held.hold(raw);
    // Where the server answers (end of a batch, a simple query), what is held goes now: a client's first answer never
    // waits for the rest of a long pipeline to be audited.
    if (ANSWERED_AT.has(message.type)) held.flush();
  }

  private refuse(statement: StatementToAudit, code: string, reason: string): void {
    const { client } = this.o.relay;
    if (statement.kind === 'query') {
      client.write(
        Buffer.concat([
          errorResponse({ severity: 'ERROR', code, message: reason }),
          readyForQuery(this.o.transactionStatus()),
        ]),
      );
    } else if (!this.batchOpen) {
      client.write(errorResponse({ severity: 'ERROR', code, message: reason }));
      this.skippingUntilSync = true;
    } else {
      // Earlier messages of this batch may already have gone to the database, which would run them and commit at
      // the Sync as if nothing had failed, its answers arriving after this error. Closing the session rolls them back.
      client.write(
        errorResponse({
          severity: 'FATAL',
          code,
          message: `${reason}; earlier messages of its extended-protocol batch may have reached the database, so the session is closed (nothing of the batch is committed)`,
        }),
      );
      this.o.life.finish('refused-in-batch');
    }
  }
}
