/**
 * Records the refusals an attacker can make as fast as they like — refused authentication (bad, expired or missing
 * tokens), request bodies the API refuses (too large, malformed, off the schema) — in the audit log, so that an
 * auditor sees probing. Bounded: each client address gets at most `perAddressPerMinute` rows a minute; the rest are
 * counted, and once the address's minute is over one more row says how many were left out and why. That row is
 * written by the address's next refusal, by the sweep that runs every minute, or by `close()` — so a flood that stops
 * is still counted. At most `maxAddresses` addresses are followed at once; the one followed longest is summed up and
 * forgotten first.
 */
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { AuditWriter } from './audit-writer.js';
import type { AuditEventInput, AuditWho } from './event.js';

/** The audit actions of the refusals recorded here (docs/audit.md). */
export type RefusalAction =
  /** A request whose credentials were refused: no token, or one that does not verify. */
  | 'auth.reject'
  /** A request the API refused for its form (body too large, not JSON, off the schema), before any service saw it. */
  | 'api.reject';

export interface RecordedRefusal {
  readonly reasonCode: string;
  readonly clientAddress: string;
  readonly method: string;
  /** The route's template, never the raw path (which may carry anything). */
  readonly route: string;
  /** The HTTP status answered, when there is one. */
  readonly status?: number | undefined;
  /** Who, when known (a body refused after its sender was authenticated); anonymous otherwise. */
  readonly who?: AuditWho | undefined;
}

export interface RefusalRecorder {
  record(refusal: RecordedRefusal): Promise<void>;
  /** Writes the summaries still owed (of minutes not yet over too) and stops the sweep. */
  close(): Promise<void>;
}

const MINUTE_MS = 60_000;
const ANONYMOUS: AuditWho = Object.freeze({ actor: 'anonymous' });

interface Window {
  readonly startedMs: number;
  written: number;
  suppressed: number;
  /** Suppressed refusals by reason code (codes are phigate's own: a small set). */
  readonly reasons: Map<string, number>;
  /** Who made every suppressed refusal, while it was one person; null once they differ. */
  who: AuditWho | null | undefined;
}

export function createRefusalRecorder(options: {
  readonly writer: Pick<AuditWriter, 'append'>;
  readonly clock: Clock;
  readonly logger: Pick<Logger, 'warn'>;
  readonly action?: RefusalAction;
  readonly perAddressPerMinute?: number;
  readonly maxAddresses?: number;
  /** How often minutes that are over are summed up (default: every minute; 0: only by record() and close()). */
  readonly sweepIntervalMs?: number;
}): RefusalRecorder {
  const action = options.action ?? 'auth.reject';
  const limit = options.perAddressPerMinute ?? 30;
  const maxAddresses = options.maxAddresses ?? 10_000;
  const windows = new Map<string, Window>();

  const append = async (event: AuditEventInput, reasonCode: string): Promise<void> => {
    try {
      await options.writer.append([event]);
    } catch (err) {
      // The request is refused either way; losing this record is logged, never silent.
      options.logger.warn({ err, action, reasonCode }, 'could not audit a refused request');
    }
  };

  /** The row that counts what a window left out. */
  const summarise = async (clientAddress: string, w: Window, nowMs: number): Promise<void> => {
    if (w.suppressed === 0) return;
    const reasons = [...w.reasons].sort((a, b) => b[1] - a[1]);
    const event: AuditEventInput = {
      action,
      outcome: 'refused',
      reasonCode: reasons[0]![0],
      who: w.who ?? ANONYMOUS,
      how: { clientAddress },
      detail: {
        suppressed: w.suppressed,
        suppressedReasons: Object.fromEntries(reasons),
        windowStart: new Date(w.startedMs).toISOString(),
        windowEnd: new Date(Math.min(nowMs, w.startedMs + MINUTE_MS)).toISOString(),
      },
    };
    w.suppressed = 0;
    await append(event, event.reasonCode!);
  };

  /** Sums up and forgets the windows whose minute is over (all of them with `all`). */
  const sweep = async (all: boolean): Promise<void> => {
    const nowMs = options.clock.now().getTime();
    const due: [string, Window][] = [];
    for (const [address, w] of windows) {
      if (all || nowMs - w.startedMs >= MINUTE_MS) due.push([address, w]);
    }
    for (const [address] of due) windows.delete(address);
    await Promise.all(due.map(([address, w]) => summarise(address, w, nowMs)));
  };

  const interval = options.sweepIntervalMs ?? MINUTE_MS;
  const timer = interval > 0 ? setInterval(() => void sweep(false), interval) : undefined;
  // A recorder never keeps a process alive.
  timer?.unref();

  return {
    async record(refusal) {
      const nowMs = options.clock.now().getTime();
      const address = refusal.clientAddress;
      let w = windows.get(address);
      if (w !== undefined && nowMs - w.startedMs >= MINUTE_MS) {
        windows.delete(address);
        await summarise(address, w, nowMs);
        w = undefined;
      }
      if (w === undefined) {
        if (windows.size >= maxAddresses) {
          const [oldest, old] = windows.entries().next().value!;
          windows.delete(oldest);
          await summarise(oldest, old, nowMs);
        }
        w = { startedMs: nowMs, written: 0, suppressed: 0, reasons: new Map(), who: undefined };
        windows.set(address, w);
      }
      const who = refusal.who ?? ANONYMOUS;
      if (w.written >= limit) {
        w.suppressed += 1;
        w.reasons.set(refusal.reasonCode, (w.reasons.get(refusal.reasonCode) ?? 0) + 1);
        w.who = w.who === undefined || w.who?.actor === who.actor ? who : null;
        return;
      }
      w.written += 1;
      await append(
        {
          action,
          outcome: 'refused',
          reasonCode: refusal.reasonCode,
          who,
          how: { clientAddress: address },
          detail: {
            method: refusal.method,
            route: refusal.route,
            ...(refusal.status !== undefined ? { status: refusal.status } : {}),
          },
        },
        refusal.reasonCode,
      );
    },
    async close() {
      if (timer !== undefined) clearInterval(timer);
      await sweep(true);
    },
  };
}
