/**
 * The database's side of a relayed session: its messages are passed to the client untouched, except that the
 * message completing a statement (and everything after it) waits for the statement's completion record when the
 * gateway asks for that, and that the database's own termination of the session is explained to the client.
 */
import { errorResponse, parseErrorFields } from './backend-messages.js';
import { MessageFramer, type Frame } from './message-framer.js';
import type { RelayLifetime } from './relay-lifetime.js';
import type { RelayOptions, StatementToAudit } from './relay-types.js';
import type { StatementTracker } from './statement-tracker.js';

/** The database's own "terminating connection due to administrator command" (pg_terminate_backend). */
function isAdminShutdown(frame: Frame): boolean {
  if (frame.type !== 0x45) return false;
  const error = parseErrorFields(frame.body);
  return error.severity === 'FATAL' && error.code === '57P01';
}

interface Gate {
  readonly at: number;
  readonly wait: Promise<void>;
}

export interface ServerSideOptions {
  readonly relay: Pick<RelayOptions, 'client' | 'upstream' | 'completed' | 'whyTerminated'>;
  readonly life: RelayLifetime;
  readonly tracker: Pick<StatementTracker, 'backend'>;
  /** Statements forwarded and not yet answered, by id: taken off as their answers come. */
  readonly inFlight: Map<number, StatementToAudit>;
  /** Told each transaction status the server reports (ReadyForQuery). */
  onTransactionStatus(status: 'I' | 'T' | 'E'): void;
}

/** The database's side of one session (startRelay makes it; its bytes arrive through `onData`). */
export class ServerSide {
  private readonly framer = new MessageFramer();
  private dying = false;

  constructor(private readonly o: ServerSideOptions) {
    this.framer.startTyped();
  }

  /** The database is terminating the session: what the client is told waits for `whyTerminated`. */
  get terminating(): boolean {
    return this.dying;
  }

  onData(chunk: Buffer): void {
    const { framer } = this;
    if (this.o.life.finished || this.dying) return;
    let frames;
    try {
      frames = framer.push(chunk);
    } catch {
      this.o.relay.client.write(chunk);
      this.o.life.finish('error');
      return;
    }
    let shutdown = this.o.relay.whyTerminated === undefined ? -1 : frames.findIndex(isAdminShutdown);
    let out = chunk;
    if (shutdown >= 0) {
      // Whatever precedes the shutdown notice goes through untouched; when part of the notice already went out
      // with an earlier chunk (rare: ~100 bytes split across reads), it all goes through as it came.
      const tail = frames.slice(shutdown).reduce((n, f) => n + f.raw.length, 0);
      const before = chunk.length - tail - framer.buffered;
      if (before < 0) shutdown = -1;
      else out = chunk.subarray(0, before);
    }
    const handled = shutdown < 0 ? frames : frames.slice(0, shutdown);
    const gates = this.gatesOf(chunk, frames, handled);
    const notice = shutdown >= 0 ? frames[shutdown]!.raw : undefined;
    this.deliver(out, gates, notice === undefined ? undefined : () => this.explainTermination(notice));
  }

  /** The gates of these frames: where, in `chunk`, a completed statement's answer must wait for its record. */
  private gatesOf(chunk: Buffer, frames: readonly Frame[], handled: readonly Frame[]): Gate[] {
    // Where each frame ends in `chunk` (a frame may have begun in an earlier chunk, already passed on).
    let end = chunk.length - this.framer.buffered - frames.reduce((n, f) => n + f.raw.length, 0);
    const gates: Gate[] = [];
    for (const f of handled) {
      const start = Math.max(0, end);
      end += f.raw.length;
      if (f.type === 0x5a && f.body.length === 1)
        this.o.onTransactionStatus(String.fromCharCode(f.body[0]!) as 'I' | 'T' | 'E');
      for (const result of this.o.tracker.backend(f.type!, f.body)) {
        const statement = this.o.inFlight.get(result.id);
        this.o.inFlight.delete(result.id);
        const wait = statement ? this.o.relay.completed?.(statement, result) : undefined;
        // The message that completes the statement, and all after it, wait for its record.
        if (wait !== undefined) gates.push({ at: start, wait });
      }
    }
    return gates;
  }

  /**
   * Writes the server's bytes to the client; each gate (at an offset of `out`) holds what follows it until it
   * settles. The upstream socket is paused meanwhile, so that nothing overtakes what waits.
   */
  private deliver(out: Buffer, gates: readonly Gate[], then?: () => void): void {
    const { client, upstream } = this.o.relay;
    const { life } = this.o;
    if (gates.length === 0) {
      if (out.length > 0) client.write(out);
      then?.();
      return;
    }
    upstream.pause();
    let from = 0;
    let chain: Promise<void> = Promise.resolve();
    for (const gate of gates) {
      const piece = out.subarray(from, gate.at);
      from = gate.at;
      chain = chain.then(async () => {
        if (piece.length > 0 && !life.finished) client.write(piece);
        await gate.wait;
      });
    }
    const rest = out.subarray(from);
    chain.then(
      () => {
        if (life.finished) return;
        if (rest.length > 0) client.write(rest);
        upstream.resume();
        then?.();
      },
      () => this.auditLost(),
    );
  }

  /** Tells the client why the database ended the session: the grant's end when that is why, else its own words. */
  private explainTermination(fatal: Buffer): void {
    const { life } = this.o;
    this.dying = true;
    const fallback = (): void => {
      if (life.finished) return;
      this.o.relay.client.write(fatal);
      life.finish('upstream-closed');
    };
    this.o.relay.whyTerminated!().then(
      (end) => (end === undefined ? fallback() : life.cut(end.reason, end.endedAt)),
      fallback,
    );
  }

  /** The client was told the audit could not record what a statement disclosed: the session ends. */
  private auditLost(): void {
    if (this.o.life.finished) return;
    this.o.relay.client.write(
      errorResponse({
        severity: 'FATAL',
        code: '58000',
        message: 'the audit log could not record what the last statement returned: the session is closed',
      }),
    );
    this.o.life.finish('audit-lost');
  }
}
