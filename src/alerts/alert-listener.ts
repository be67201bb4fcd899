/**
 * LISTEN for new alerts: a trigger on `alert_events` NOTIFYs at commit, on every replica. A listener that loses its
 * connection listens again a second later and calls `onAlert` (something may have been raised meanwhile); polling
 * covers the gap.
 */
import pg from 'pg';
import type { Logger } from '../lib/logger.js';

/** The channel migration 0006's trigger notifies. */
export const ALERT_CHANNEL = 'phigate_alerts';

export interface AlertListener {
  close(): Promise<void>;
}

export async function listenForAlerts(
  pool: pg.Pool,
  onAlert: () => void,
  logger: Pick<Logger, 'warn'>,
): Promise<AlertListener> {
  let closed = false;
  let current: pg.Client | undefined;
  let retry: NodeJS.Timeout | undefined;

  const listen = async (): Promise<void> => {
    if (closed) return;
    const client = new pg.Client(pool.options);
    const lost = (): void => {
      if (current !== client) return;
      current = undefined;
      client.end().catch(() => undefined);
      if (closed) return;
      retry = setTimeout(() => void listen().then(onAlert), 1_000);
      retry.unref();
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (msg) => {
      if (msg.channel === ALERT_CHANNEL) onAlert();
    });
    current = client;
    try {
      await client.connect();
      await client.query(`listen ${ALERT_CHANNEL}`);
    } catch (err) {
      logger.warn({ err }, 'alert delivery cannot LISTEN; polling only until it can');
      lost();
    }
  };

  await listen();
  return {
    async close() {
      closed = true;
      clearTimeout(retry);
      const client = current;
      current = undefined;
      await client?.end().catch(() => undefined);
    },
  };
}
