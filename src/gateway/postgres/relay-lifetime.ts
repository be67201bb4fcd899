/**
 * How a relayed session ends: at the grant's end (a timer, and a check before anything is forwarded), when cut (the
 * grant was revoked or ended on another replica), after idleness (automatic logoff), or when either side goes. The
 * first end wins; it closes both sockets and tells the caller once.
 */
import type { Duplex } from 'node:stream';
import type { Clock } from '../../lib/clock.js';
import { errorResponse } from './backend-messages.js';
import type { HeldWrites } from './relay-held-writes.js';

export interface RelayLifetimeOptions {
  readonly client: Pick<Duplex, 'write' | 'end'>;
  readonly upstream: Pick<Duplex, 'end' | 'destroy'>;
  readonly held: Pick<HeldWrites, 'take'>;
  readonly endsAt: Date;
  readonly grantLabel: string;
  readonly idleTimeoutMs?: number | undefined;
  readonly clock: Clock;
  /** Statements forwarded whose answer has not come back: a long query is not idleness. */
  readonly running: () => number;
  onEnd(reason: string): void;
}

export interface RelayLifetime {
  readonly finished: boolean;
  readonly ended: Promise<string>;
  /** A client message came: the idle timer starts again. */
  touched(): void;
  /** Cuts the session if the grant's end has come (by the clock, whatever the timer's turn); whether it did. */
  cutIfGrantOver(): boolean;
  /** Ends the session; `goodbye` (a client's Terminate) is forwarded after what is held, else nothing more is. */
  finish(reason: string, goodbye?: Buffer): void;
  /** Tells the client the grant ended (or `message`), then ends the session. */
  cut(reason: string, endedAt: Date, message?: string): void;
}

export function startRelayLifetime(o: RelayLifetimeOptions): RelayLifetime {
  let finished = false;
  let resolveEnded!: (reason: string) => void;
  const ended = new Promise<string>((r) => (resolveEnded = r));
  let idleTimer: NodeJS.Timeout | undefined;

  const touched = (): void => {
    if (o.idleTimeoutMs === undefined) return;
    const idleTimeoutMs = o.idleTimeoutMs;
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      // A long query is not idleness: look again once it has answered.
      if (o.running() > 0) return touched();
      if (finished) return;
      o.client.write(
        errorResponse({
          severity: 'FATAL',
          code: '57P05',
          message: `the session was idle for ${Math.round(idleTimeoutMs / 1000)} s and is closed (automatic logoff)`,
        }),
      );
      finish('idle-timeout');
    }, idleTimeoutMs);
    idleTimer.unref();
  };

  const finish = (reason: string, goodbye?: Buffer): void => {
    if (finished) return;
    finished = true;
    clearTimeout(grantEnd);
    clearTimeout(idleTimer);
    o.client.end();
    // After a client's Terminate, what it sent before (a COMMIT at Execute, say) still reaches the server, then the
    // Terminate; every other end drops what is held: a cut or a refusal forwards nothing more.
    const held = o.held.take();
    if (goodbye !== undefined) o.upstream.end(Buffer.concat([...held, goodbye]));
    else o.upstream.destroy();
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

  touched();
  const delay = Math.max(0, o.endsAt.getTime() - o.clock.now().getTime());
  const grantEnd = setTimeout(() => cut('grant-ended', o.endsAt), Math.min(delay, 2 ** 31 - 1));

  return {
    get finished() {
      return finished;
    },
    ended,
    touched,
    cutIfGrantOver() {
      if (o.clock.now().getTime() < o.endsAt.getTime()) return false;
      cut('grant-ended', o.endsAt);
      return true;
    },
    finish,
    cut,
  };
}
