/**
 * One client session relayed to the database as the grant's role. Client messages are framed and decoded; each
 * statement (a simple Query, or a Parse and each Execute of the extended protocol) is audited BEFORE it is
 * forwarded, and if the audit cannot be written the client gets an error and nothing reaches the database; a guard
 * may refuse statements first (recorded, not run). Server
 * messages are passed through untouched. At the grant's end the session is cut: the client receives a FATAL naming
 * the grant and the time it ended, both sockets close, and the caller terminates the backend.
 */
import type { Duplex } from 'node:stream';
import {
  authenticationOk,
  backendKeyData,
  errorResponse,
  parameterStatus,
  parseErrorFields,
  readyForQuery,
} from './backend-messages.js';
import { decodeFrontend } from './frontend-messages.js';
import { MessageFramer, type Frame } from './message-framer.js';
import { ProtocolError } from './protocol-error.js';
import {
  StatementTracker,
  type DescribedShape,
  type PatientColumnOf,
  type PortalShape,
  type StatementResult,
} from './statement-tracker.js';

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

/**
 * Extended-protocol messages that can fail, and whose batch must then end with a Sync before anything else is
 * relayed (Close and Flush cannot fail: clients send Close before a simple Query, and that is fine).
 */
const EXTENDED = new Set(['parse', 'bind', 'describe', 'execute']);

/** Messages the server answers: what the relay holds back is written out at each. */
const ANSWERED_AT = new Set(['sync', 'flush', 'query', 'function-call', 'copy-done', 'copy-fail']);

/** The database's own "terminating connection due to administrator command" (pg_terminate_backend). */
function isAdminShutdown(frame: Frame): boolean {
  if (frame.type !== 0x45) return false;
  const error = parseErrorFields(frame.body);
  return error.severity === 'FATAL' && error.code === '57P01';
}

export function startRelay(o: RelayOptions): RelaySession {
  const framer = new MessageFramer();
  framer.startTyped();
  let finished = false;
  let resolveEnded!: (reason: string) => void;
  const ended = new Promise<string>((r) => (resolveEnded = r));
  // Statements named by Parse and portals made by Bind, as forwarded: so that an Execute can be audited with its SQL
  // and parameters, and its rows read as the server described them (statement-tracker.ts).
  const prepared = new Map<
    string,
    {
      readonly sql: string;
      readonly relations: readonly string[] | undefined;
      readonly shape: DescribedShape;
    }
  >();
  const portals = new Map<
    string,
    {
      readonly sql: string;
      readonly relations: readonly string[] | undefined;
      readonly parameters: readonly (Buffer | null)[];
      readonly shape: PortalShape;
      /** The id of its first Execute. */
      run: number | undefined;
    }
  >();
  // Client messages are handled strictly in order: one audit at a time, forwarding in arrival order.
  let chain: Promise<void> = Promise.resolve();
  // Messages cleared for the server and not yet written: the messages of one client chunk (Bind, Execute, Sync…) go
  // in one write, not in one system call each — the relay's socket writes were its largest cost. Held at most until
  // a message the server answers, or the end of the chunk; nothing in `handle` waits for the server, so holding them
  // cannot deadlock.
  let held: Buffer[] = [];
  const writeHeld = (): void => {
    if (held.length === 0 || finished) return;
    o.upstream.write(held.length === 1 ? held[0]! : Buffer.concat(held));
    held = [];
  };
  // After an extended-protocol statement is refused, the protocol wants everything up to Sync discarded.
  let skippingUntilSync = false;
  // Extended-protocol messages were forwarded since the last Sync.
  let batchOpen = false;
  // The transaction status the server last reported, for the ReadyForQuery the gateway sends itself.
  let transactionStatus: 'I' | 'T' | 'E' = 'I';
  const upstreamFramer = new MessageFramer();
  upstreamFramer.startTyped();
  const tracker = new StatementTracker(undefined, o.patientColumnOf);
  const inFlight = new Map<number, StatementToAudit>();
  let nextId = 1;
  let idleTimer: NodeJS.Timeout | undefined;
  const idle = (): void => {
    if (o.idleTimeoutMs === undefined) return;
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      // A long query is not idleness: look again once it has answered.
      if (tracker.pending > 0) return idle();
      if (finished) return;
      o.client.write(
        errorResponse({
          severity: 'FATAL',
          code: '57P05',
          message: `the session was idle for ${Math.round(o.idleTimeoutMs! / 1000)} s and is closed (automatic logoff)`,
        }),
      );
      finish('idle-timeout');
    }, o.idleTimeoutMs);
    idleTimer.unref();
  };
  idle();

  const finish = (reason: string, goodbye?: Buffer): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    clearTimeout(idleTimer);
    o.client.end();
    // After a client's Terminate, what it sent before (a COMMIT at Execute, say) still reaches the server, then the
    // Terminate; every other end drops what is held: a cut or a refusal forwards nothing more.
    if (goodbye !== undefined) o.upstream.end(Buffer.concat([...held, goodbye]));
    else o.upstream.destroy();
    held = [];
    o.onEnd(reason);
    resolveEnded(reason);
  };

  const cut = (reason: string, endedAt: Date, message?: string): void => {
    if (finished) return;
    const verb = reason === 'grant-revoked' ? 'was revoked' : 'ended';
    o.client.write(
      errorResponse({
        severity: 'FATAL',
        code: '57P01',
        message: message ?? `${o.grantLabel} ${verb} at ${endedAt.toISOString()}: the session is closed`,
        hint: 'ask again with `phigate request` if you still need access',
      }),
    );
    finish(reason);
  };

  const delay = Math.max(0, o.endsAt.getTime() - Date.now());
  const timer = setTimeout(() => cut('grant-ended', o.endsAt), Math.min(delay, 2 ** 31 - 1));

  o.client.write(
    Buffer.concat([
      authenticationOk(),
      ...[...o.parameters].map(([k, v]) => parameterStatus(k, v)),
      backendKeyData(o.cancelKey.processId, o.cancelKey.secretKey),
      readyForQuery('I'),
    ]),
  );

  const handle = async (type: number, raw: Buffer, body: Buffer): Promise<void> => {
    if (finished) return;
    if (Date.now() >= o.endsAt.getTime()) return cut('grant-ended', o.endsAt);
    idle();
    const message = decodeFrontend(type, body);
    if (skippingUntilSync) {
      if (message.type !== 'sync') return;
      skippingUntilSync = false;
      o.client.write(readyForQuery(transactionStatus));
      return;
    }
    // PostgreSQL would skip a Query sent within an extended batch that failed, its answers then out of step with
    // what was asked; no client does this, and what cannot be tracked is not relayed.
    if ((message.type === 'query' || message.type === 'function-call') && batchOpen)
      throw new ProtocolError(
        'a simple Query within an unfinished extended-protocol batch (no Sync yet) is not relayed',
      );
    let statement: StatementToAudit | undefined;
    if (message.type === 'query') statement = { id: nextId++, kind: 'query', sql: message.sql };
    // The fast-path function call runs a function by OID, out of reach of the guard: recorded and refused like a
    // guarded statement (functions are called with SELECT).
    if (message.type === 'function-call') statement = { id: nextId++, kind: 'query', sql: 'FunctionCall' };
    if (message.type === 'parse') statement = { id: nextId++, kind: 'parse', sql: message.sql };
    if (message.type === 'execute') {
      const portal = portals.get(message.portal);
      const id = nextId++;
      statement = {
        id,
        kind: 'execute',
        sql: portal?.sql ?? '',
        parameters: portal?.parameters ?? [],
        relations: portal?.relations,
        run: portal === undefined ? id : (portal.run ??= id),
      };
    }
    if (message.type === 'terminate') return finish('client-closed', raw);
    const refuse = (code: string, reason: string): void => {
      if (statement?.kind === 'query') {
        o.client.write(
          Buffer.concat([
            errorResponse({ severity: 'ERROR', code, message: reason }),
            readyForQuery(transactionStatus),
          ]),
        );
      } else if (!batchOpen) {
        o.client.write(errorResponse({ severity: 'ERROR', code, message: reason }));
        skippingUntilSync = true;
      } else {
        // Earlier messages of this batch may already have gone to the database, which would run them and commit at
        // the Sync as if nothing had failed, its answers arriving after this error. Closing the session rolls them back.
        o.client.write(
          errorResponse({
            severity: 'FATAL',
            code,
            message: `${reason}; earlier messages of its extended-protocol batch may have reached the database, so the session is closed (nothing of the batch is committed)`,
          }),
        );
        finish('refused-in-batch');
      }
    };
    if (statement && message.type === 'function-call') {
      await o.audit({ ...statement, refusedBy: 'guard.function-call' }).catch(() => undefined);
      refuse(
        '0A000',
        'the FunctionCall protocol message is not relayed by phigate: call the function with SELECT',
      );
      return;
    }
    if (statement && statement.kind !== 'execute' && o.guard) {
      const verdict = await o.guard(statement.sql);
      if (!verdict.ok) {
        // Recorded if it can be; refused either way. The session stays usable.
        await o.audit({ ...statement, refusedBy: verdict.code }).catch(() => undefined);
        refuse('42501', verdict.reason);
        return;
      }
      statement = { ...statement, relations: verdict.relations };
    }
    if (statement) {
      try {
        await o.audit(statement);
      } catch {
        // Fail closed: the statement is not forwarded. The session stays usable, as after any error.
        refuse('58000', 'the audit log is unavailable: the statement was not run');
        return;
      }
      if (finished) return;
      // The audit may have waited past the grant's end: nothing is forwarded after it, whatever the timer's turn.
      if (Date.now() >= o.endsAt.getTime()) return cut('grant-ended', o.endsAt);
    }
    if (statement && statement.kind !== 'parse') {
      inFlight.set(statement.id, statement);
      tracker.started(
        statement.kind,
        statement.id,
        message.type === 'execute' ? portals.get(message.portal)?.shape : undefined,
      );
    }
    remember(message, statement?.relations);
    if (message.type === 'sync') {
      tracker.sync();
      batchOpen = false;
    } else if (EXTENDED.has(message.type)) batchOpen = true;
    held.push(raw);
    // Where the server answers (end of a batch, a simple query), what is held goes now: a client's first answer never
    // waits for the rest of a long pipeline to be audited.
    if (ANSWERED_AT.has(message.type)) writeHeld();
  };

  /**
   * Keeps what a forwarded message makes of the server's statements and portals. Only once forwarded: a refused Parse
   * leaves the server's statement of that name as it was.
   */
  const remember = (
    message: ReturnType<typeof decodeFrontend>,
    relations: readonly string[] | undefined,
  ): void => {
    const unknown = (): DescribedShape => ({ fields: undefined });
    if (message.type === 'parse')
      prepared.set(message.statement, { sql: message.sql, relations, shape: unknown() });
    if (message.type === 'bind') {
      const statement = prepared.get(message.statement);
      portals.set(message.portal, {
        sql: statement?.sql ?? '',
        relations: statement?.relations,
        run: undefined,
        parameters: message.parameters,
        shape: {
          portal: unknown(),
          statement: statement?.shape ?? unknown(),
          resultFormats: message.resultFormats,
        },
      });
    }
    if (message.type === 'describe')
      tracker.described(
        (message.target === 'statement'
          ? prepared.get(message.name)?.shape
          : portals.get(message.name)?.shape.portal) ?? unknown(),
      );
    if (message.type === 'close') (message.target === 'statement' ? prepared : portals).delete(message.name);
  };

  o.client.on('data', (chunk: Buffer) => {
    let frames;
    try {
      frames = framer.push(chunk);
    } catch (err) {
      const e = err instanceof ProtocolError ? err : new ProtocolError('unreadable message');
      o.client.write(errorResponse({ severity: 'FATAL', code: e.sqlState, message: e.message }));
      finish('error');
      return;
    }
    if (frames.length === 0) return;
    for (const f of frames) {
      chain = chain
        .then(() => handle(f.type!, f.raw, f.body))
        .catch((err: unknown) => {
          // A message the gateway cannot name or read is a protocol violation: say so, forward nothing, close.
          if (err instanceof ProtocolError && !finished)
            o.client.write(errorResponse({ severity: 'FATAL', code: err.sqlState, message: err.message }));
          finish('error');
        });
    }
    chain = chain.then(writeHeld);
  });
  // The database is terminating the session (FATAL 57P01): what the client is told waits for `whyTerminated`.
  let terminating = false;
  /** Tells the client why the database ended the session: the grant's end when that is why, else its own words. */
  const explainTermination = (fatal: Buffer): void => {
    terminating = true;
    const fallback = (): void => {
      if (finished) return;
      o.client.write(fatal);
      finish('upstream-closed');
    };
    o.whyTerminated!().then(
      (end) => (end === undefined ? fallback() : cut(end.reason, end.endedAt)),
      fallback,
    );
  };
  /** The client was told the audit could not record what a statement disclosed: the session ends. */
  const auditLost = (): void => {
    if (finished) return;
    o.client.write(
      errorResponse({
        severity: 'FATAL',
        code: '58000',
        message: 'the audit log could not record what the last statement returned: the session is closed',
      }),
    );
    finish('audit-lost');
  };
  /**
   * Writes the server's bytes to the client; each gate (at an offset of `out`) holds what follows it until it
   * settles. The upstream socket is paused meanwhile, so that nothing overtakes what waits.
   */
  const deliver = (
    out: Buffer,
    gates: readonly { at: number; wait: Promise<void> }[],
    then?: () => void,
  ): void => {
    if (gates.length === 0) {
      if (out.length > 0) o.client.write(out);
      then?.();
      return;
    }
    o.upstream.pause();
    let from = 0;
    let chain: Promise<void> = Promise.resolve();
    for (const gate of gates) {
      const piece = out.subarray(from, gate.at);
      from = gate.at;
      chain = chain.then(async () => {
        if (piece.length > 0 && !finished) o.client.write(piece);
        await gate.wait;
      });
    }
    const rest = out.subarray(from);
    chain.then(() => {
      if (finished) return;
      if (rest.length > 0) o.client.write(rest);
      o.upstream.resume();
      then?.();
    }, auditLost);
  };
  o.upstream.on('data', (chunk: Buffer) => {
    if (finished || terminating) return;
    let frames;
    try {
      frames = upstreamFramer.push(chunk);
    } catch {
      o.client.write(chunk);
      finish('error');
      return;
    }
    let shutdown = o.whyTerminated === undefined ? -1 : frames.findIndex(isAdminShutdown);
    let out = chunk;
    if (shutdown >= 0) {
      // Whatever precedes the shutdown notice goes through untouched; when part of the notice already went out
      // with an earlier chunk (rare: ~100 bytes split across reads), it all goes through as it came.
      const tail = frames.slice(shutdown).reduce((n, f) => n + f.raw.length, 0);
      const before = chunk.length - tail - upstreamFramer.buffered;
      if (before < 0) shutdown = -1;
      else out = chunk.subarray(0, before);
    }
    const handled = shutdown < 0 ? frames : frames.slice(0, shutdown);
    // Where each frame ends in `chunk` (a frame may have begun in an earlier chunk, already passed on).
    let end = chunk.length - upstreamFramer.buffered - frames.reduce((n, f) => n + f.raw.length, 0);
    const gates: { at: number; wait: Promise<void> }[] = [];
    for (const f of handled) {
      const start = Math.max(0, end);
      end += f.raw.length;
      if (f.type === 0x5a && f.body.length === 1)
        transactionStatus = String.fromCharCode(f.body[0]!) as 'I' | 'T' | 'E';
      for (const result of tracker.backend(f.type!, f.body)) {
        const statement = inFlight.get(result.id);
        inFlight.delete(result.id);
        const wait = statement ? o.completed?.(statement, result) : undefined;
        // The message that completes the statement, and all after it, wait for its record.
        if (wait !== undefined) gates.push({ at: start, wait });
      }
    }
    deliver(out, gates, shutdown >= 0 ? () => explainTermination(frames[shutdown]!.raw) : undefined);
  });
  o.client.on('close', () => finish('client-closed'));
  o.client.on('error', () => finish('error'));
  o.upstream.on('close', () => {
    if (!terminating) finish('upstream-closed');
  });
  o.upstream.on('error', () => {
    if (!terminating) finish('error');
  });

  return {
    cut,
    ended,
    get running() {
      return tracker.pending;
    },
  };
}
