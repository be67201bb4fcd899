import type { Db } from './database.js';

/**
 * Streams lines produced inside one REPEATABLE READ transaction, so that an export is one consistent snapshot even
 * while the log grows. Kysely runs a transaction as a callback; a small bounded hand-off lets the caller pull lines
 * at its own pace, and ends the transaction when the stream ends or is abandoned.
 */
export function snapshotLines(db: Db, produce: (tx: Db) => AsyncGenerator<string>): AsyncGenerator<string> {
  const HIGH_WATER = 64;
  return (async function* () {
    const queue: string[] = [];
    let finished = false;
    let cancelled = false;
    let failure: unknown;
    let notify: (() => void) | undefined;
    const signal = (): void => {
      const n = notify;
      notify = undefined;
      n?.();
    };
    const wait = (): Promise<void> => new Promise<void>((resolve) => (notify = resolve));
    const tx = db
      .transaction()
      .setIsolationLevel('repeatable read')
      .execute(async (trx) => {
        for await (const line of produce(trx)) {
          if (cancelled) return;
          queue.push(line);
          signal();
          while (queue.length >= HIGH_WATER && !cancelled) await wait();
        }
      })
      .catch((err: unknown) => {
        failure = err;
      })
      .finally(() => {
        finished = true;
        signal();
      });
    try {
      for (;;) {
        if (queue.length > 0) {
          const line = queue.shift()!;
          signal();
          yield line;
          continue;
        }
        if (finished) break;
        await wait();
      }
      if (failure !== undefined)
        throw failure instanceof Error ? failure : new Error('the export failed', { cause: failure });
    } finally {
      cancelled = true;
      signal();
      await tx;
    }
  })();
}
