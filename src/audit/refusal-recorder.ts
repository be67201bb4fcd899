/**
 * Records the refusals an attacker can make as fast as they like — refused authentication (bad, expired or missing
 * tokens), probing of the gateway, request bodies the API refuses (too large, malformed, off the schema) — in the
 * audit log, so that an auditor sees probing. What one client address causes is written in minute windows:
 *
 * - at most `perAddressPerMinute` records one by one per address;
 * - a refusal marked `repeatable` (a guessed cancel key, garbage bytes, one connection too many: nothing is learnt
 *   by repeating it) is written once per address, reason and window;
 * - whatever was not written one by one is counted per reason, and one summary record per address and reason
 *   (`detail.count`, `detail.from`, `detail.to`) is written when the window ends — so a flood leaves a bounded
 *   number of records that still say how big it was.
 */
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { AuditAction } from './actions.js';
import type { AuditWriter } from './audit-writer.js';
import type { AuditWho } from './event.js';

/** The audit actions of the refusals recorded here (docs/audit.md). */
export type RefusalAction = Extract<
  AuditAction,
  /** A request whose credentials were refused: no token, or one that does not verify; gateway probing. */
  | 'auth.reject'
  /** A request the API refused for its form (body too large, not JSON, off the schema), before any service saw it. */
  | 'api.reject'
>;

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
  /** Recorded once per address, reason and minute; the repeats are counted in the minute's summary. */
  readonly repeatable?: boolean;
}

export interface RefusalRecorder {
  record(refusal: RecordedRefusal): Promise<void>;
  /** Writes the summaries of the windows that have ended (a timer does this too, shortly after they end). */
  flush(): Promise<void>;
  /** Writes the summaries of every window, ended or not, and stops the timer (at shutdown). */
  close(): Promise<void>;
}

interface Counted {
  count: number;
  readonly method: string;
  readonly route: string;
  /** Who made every counted refusal, while it was one person; null once they differ. */
  who: AuditWho | null;
}

const ANONYMOUS: AuditWho = Object.freeze({ actor: 'anonymous' });

interface Window {
  readonly startedMs: number;
  written: number;
  /** Repeatable reasons already written in this window. */
  readonly seen: Set<string>;
  /** Refusals not written one by one, per reason code. */
  readonly counted: Map<string, Counted>;
}

export function createRefusalRecorder(options: {
  readonly writer: Pick<AuditWriter, 'append'>;
  readonly clock: Clock;
  readonly logger: Pick<Logger, 'warn'>;
  readonly action?: RefusalAction;
  readonly perAddressPerMinute?: number;
  readonly maxAddresses?: number;
  /** The window's length: a minute (tests shorten it to see the timer write a summary). */
  readonly windowMs?: number;
}): RefusalRecorder {
  const action = options.action ?? 'auth.reject';
  const windowMs = options.windowMs ?? 60_000;
  const limit = options.perAddressPerMinute ?? 30;
  const maxAddresses = options.maxAddresses ?? 10_000;
  const windows = new Map<string, Window>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const write = async (
    reasonCode: string,
    clientAddress: string,
    who: AuditWho,
    detail: Readonly<Record<string, unknown>>,
  ): Promise<void> => {
    try {
      await options.writer.append([
        { action, outcome: 'refused', reasonCode, who, how: { clientAddress }, detail },
      ]);
    } catch (err) {
      // The request is refused either way; losing this record is logged, never silent.
      options.logger.warn({ err, action, reasonCode }, 'could not audit a refused request');
    }
  };

  /** One record per reason counted in an ended (or, at shutdown, cut short) window. */
  const summarise = (address: string, w: Window, endMs: number): Promise<unknown> =>
    Promise.all(
      [...w.counted].map(([reasonCode, c]) =>
        write(reasonCode, address, c.who ?? ANONYMOUS, {
          method: c.method,
          route: c.route,
          count: c.count,
          from: new Date(w.startedMs).toISOString(),
          to: new Date(endMs).toISOString(),
        }),
      ),
    );

  const flush = async (everything: boolean): Promise<void> => {
    const nowMs = options.clock.now().getTime();
    const done: Promise<unknown>[] = [];
    for (const [address, w] of windows) {
      const endMs = w.startedMs + windowMs;
      if (!everything && nowMs < endMs) continue;
      windows.delete(address);
      done.push(summarise(address, w, Math.min(endMs, nowMs)));
    }
    await Promise.all(done);
  };

  // Real time, armed only while something is counted; unref'd, so it never keeps a process alive.
  const arm = (w: Window): void => {
    if (timer !== undefined || closed) return;
    const delay = Math.max(0, w.startedMs + windowMs - options.clock.now().getTime()) + 100;
    timer = setTimeout(() => {
      timer = undefined;
      void flush(false).finally(() => {
        const next = [...windows.values()].find((x) => x.counted.size > 0);
        if (next !== undefined) arm(next);
      });
    }, delay);
    timer.unref();
  };

  return {
    async record(refusal) {
      const nowMs = options.clock.now().getTime();
      const address = refusal.clientAddress;
      // Every decision is taken before the first await, so concurrent calls for one address share one window;
      // summaries are appended before this call's own record, so they come first in the log.
      const summaries: Promise<unknown>[] = [];
      let w = windows.get(address);
      if (w !== undefined && nowMs - w.startedMs >= windowMs) {
        windows.delete(address);
        summaries.push(summarise(address, w, w.startedMs + windowMs));
        w = undefined;
      }
      if (w === undefined) {
        if (windows.size >= maxAddresses) {
          const [oldest, old] = windows.entries().next().value!;
          windows.delete(oldest);
          summaries.push(summarise(oldest, old, nowMs));
        }
        w = { startedMs: nowMs, written: 0, seen: new Set(), counted: new Map() };
        windows.set(address, w);
      }
      const who = refusal.who ?? ANONYMOUS;
      const repeated = refusal.repeatable === true && w.seen.has(refusal.reasonCode);
      if (repeated || w.written >= limit) {
        const c = w.counted.get(refusal.reasonCode);
        if (c === undefined)
          w.counted.set(refusal.reasonCode, { count: 1, method: refusal.method, route: refusal.route, who });
        else {
          c.count += 1;
          if (c.who !== null && c.who.actor !== who.actor) c.who = null;
        }
        arm(w);
      } else {
        w.written += 1;
        if (refusal.repeatable === true) w.seen.add(refusal.reasonCode);
        const detail = {
          method: refusal.method,
          route: refusal.route,
          ...(refusal.status !== undefined ? { status: refusal.status } : {}),
        };
        summaries.push(write(refusal.reasonCode, address, who, detail));
      }
      await Promise.all(summaries);
    },
    flush: () => flush(false),
    async close() {
      closed = true;
      clearTimeout(timer);
      timer = undefined;
      await flush(true);
    },
  };
}
