/**
 * Records refused authentication attempts (bad, expired or missing tokens) in the audit log. An attacker can make
 * these as fast as they like, so each client address gets a bounded number of audit rows per minute; the rest are
 * counted and summarised in the next row that is written for that address.
 */
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { AuditWriter } from './audit-writer.js';

export interface AuthRefusal {
  readonly reasonCode: string;
  readonly clientAddress: string;
  readonly method: string;
  readonly route: string;
}

export interface RefusalRecorder {
  record(refusal: AuthRefusal): Promise<void>;
}

interface Window {
  startedMs: number;
  written: number;
  suppressed: number;
}

export function createRefusalRecorder(options: {
  readonly writer: Pick<AuditWriter, 'append'>;
  readonly clock: Clock;
  readonly logger: Pick<Logger, 'warn'>;
  readonly perAddressPerMinute?: number;
  readonly maxAddresses?: number;
}): RefusalRecorder {
  const limit = options.perAddressPerMinute ?? 30;
  const maxAddresses = options.maxAddresses ?? 10_000;
  const windows = new Map<string, Window>();
  return {
    async record(refusal) {
      const now = options.clock.now();
      let w = windows.get(refusal.clientAddress);
      if (!w || now.getTime() - w.startedMs >= 60_000) {
        if (!w && windows.size >= maxAddresses) windows.delete(windows.keys().next().value!);
        w = { startedMs: now.getTime(), written: 0, suppressed: w?.suppressed ?? 0 };
        windows.set(refusal.clientAddress, w);
      }
      if (w.written >= limit) {
        w.suppressed += 1;
        return;
      }
      w.written += 1;
      const suppressed = w.suppressed;
      w.suppressed = 0;
      try {
        await options.writer.append([
          {
            action: 'auth.reject',
            outcome: 'refused',
            reasonCode: refusal.reasonCode,
            who: { actor: 'anonymous' },
            how: { clientAddress: refusal.clientAddress },
            detail: {
              method: refusal.method,
              route: refusal.route,
              ...(suppressed > 0 ? { suppressedSinceLastRecord: suppressed } : {}),
            },
          },
        ]);
      } catch (err) {
        // The request is refused either way; losing this record is logged, never silent.
        options.logger.warn(
          { err, reasonCode: refusal.reasonCode },
          'could not audit a refused authentication',
        );
      }
    },
  };
}
