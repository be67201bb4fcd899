/**
 * Messages cleared for the server and not yet written: the messages of one client chunk (Bind, Execute, Sync…) go in
 * one write, not in one system call each — the relay's socket writes were its largest cost. Held at most until a
 * message the server answers, or the end of the chunk; nothing in the client side waits for the server, so holding
 * them cannot deadlock.
 */
import type { Duplex } from 'node:stream';

export interface HeldWrites {
  hold(raw: Buffer): void;
  /** Writes what is held, in one write (nothing once the session is over). */
  flush(): void;
  /** What is held, taken for good as the session ends: nothing is written after. */
  take(): Buffer[];
}

export function createHeldWrites(upstream: Pick<Duplex, 'write'>): HeldWrites {
  let held: Buffer[] = [];
  let taken = false;
  return {
    hold(raw) {
      held.push(raw);
    },
    flush() {
      if (held.length === 0 || taken) return;
      upstream.write(held.length === 1 ? held[0]! : Buffer.concat(held));
      held = [];
    },
    take() {
      taken = true;
      const rest = held;
      held = [];
      return rest;
    },
  };
}
