/**
 * The grant event bus: in-process fan-out plus PostgreSQL LISTEN/NOTIFY, so a grant activated, expired or revoked
 * on one replica reaches the gateways and schedulers of every replica.
 *
 * The NOTIFY is issued inside the transaction that changes the grant (`announce`): PostgreSQL queues it with the
 * transaction and delivers it to every listener at commit, so a replica that answers "revoked" and dies a moment
 * later cannot take the announcement with it. In-process subscribers are called after the commit.
 *
 * A listener that loses its connection misses what is announced until it is back; then `onResync` handlers run so
 * that subscribers read the store again (the gateway checks its sessions' grants, the scheduler sweeps).
 */
import { sql } from 'kysely';
import pg from 'pg';
import type { Logger } from '../lib/logger.js';
import type { GrantEvent, GrantEventBus } from './types.js';

export interface GrantEventBusOptions {
  readonly pool: pg.Pool;
  /** This process's id; NOTIFY echoes of our own events are ignored (they were delivered in-process already). */
  readonly replicaId: string;
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** LISTEN channel (a lower-case SQL identifier). */
  readonly channel?: string;
  /** First and longest wait between reconnection attempts of the listener. */
  readonly reconnectMs?: { readonly initial: number; readonly max: number };
}

export interface GrantEventBusHandle extends GrantEventBus {
  /** Resolves once the listener is in place (events of other replicas are being received). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/** One NOTIFY payload: several events, so a burst of expiries costs a few notifications, not one each. */
interface Envelope {
  readonly origin: string;
  readonly events: readonly GrantEvent[];
}

/** PostgreSQL caps a NOTIFY payload at 8000 bytes; stay well below it. */
const MAX_PAYLOAD_BYTES = 7000;

const TYPES = new Set<GrantEvent['type']>(['grant.activated', 'grant.expired', 'grant.revoked']);
const CHANNEL = /^[a-z_][a-z0-9_]{0,62}$/;

export function createGrantEventBus(deps: GrantEventBusOptions): GrantEventBusHandle {
  const { pool, replicaId, logger } = deps;
  const channel = deps.channel ?? 'phigate_grant_events';
  if (!CHANNEL.test(channel)) throw new Error(`invalid event bus channel name: ${channel}`);
  const backoff = deps.reconnectMs ?? { initial: 100, max: 10_000 };
  const handlers = new Set<(event: GrantEvent) => void>();
  const resyncHandlers = new Set<() => void>();
  let listenedBefore = false;
  let client: pg.Client | undefined;
  let closed = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let delay = backoff.initial;
  let markReady: () => void = () => undefined;
  const readyPromise = new Promise<void>((resolve) => (markReady = resolve));

  const deliver = (event: GrantEvent): void => {
    for (const handler of handlers) {
      try {
        handler(event);
      } catch (err) {
        logger.error({ err, type: event.type, grantId: event.grantId }, 'grant event handler failed');
      }
    }
  };

  const onNotification = (msg: pg.Notification): void => {
    if (msg.channel !== channel || msg.payload === undefined) return;
    const envelope = parseEnvelope(msg.payload);
    if (envelope === undefined) {
      logger.warn({ channel }, 'ignored a malformed grant event notification');
      return;
    }
    if (envelope.origin === replicaId) return;
    for (const event of envelope.events) deliver(event);
  };

  const scheduleReconnect = (): void => {
    if (closed || retryTimer !== undefined) return;
    const wait = Math.round(delay * (0.5 + Math.random() / 2));
    delay = Math.min(delay * 2, backoff.max);
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void connect();
    }, wait);
    retryTimer.unref();
  };

  const connect = async (): Promise<void> => {
    if (closed) return;
    const c = new pg.Client(pool.options);
    const lost = (err?: Error): void => {
      if (client !== c) return;
      client = undefined;
      c.removeAllListeners('notification');
      c.end().catch(() => undefined);
      if (!closed) {
        logger.warn({ err }, 'grant event listener lost its connection; reconnecting');
        scheduleReconnect();
      }
    };
    c.on('error', lost);
    c.on('end', () => lost());
    c.on('notification', onNotification);
    client = c;
    try {
      await c.connect();
      await c.query(`listen ${channel}`);
      if (closed) {
        await c.end();
        return;
      }
      delay = backoff.initial;
      markReady();
      // Back after a loss: whatever was announced meanwhile did not reach this replica.
      if (listenedBefore) for (const resync of resyncHandlers) runResync(resync);
      listenedBefore = true;
    } catch (err) {
      lost(err instanceof Error ? err : new Error(String(err)));
    }
  };

  const runResync = (resync: () => void): void => {
    try {
      resync();
    } catch (err) {
      logger.error({ err }, 'grant event resync handler failed');
    }
  };

  void connect();

  return {
    async announce(tx, events) {
      if (events.length > 0) {
        const payloads = envelopes(replicaId, events);
        await sql`select pg_notify(${channel}, payload) from unnest(${payloads}::text[]) as payload`.execute(
          tx,
        );
      }
      return () => {
        for (const event of events) deliver(event);
      };
    },
    subscribe(handler) {
      handlers.add(handler);
      return () => void handlers.delete(handler);
    },
    onResync(handler) {
      resyncHandlers.add(handler);
      return () => void resyncHandlers.delete(handler);
    },
    ready: () => readyPromise,
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(retryTimer);
      const c = client;
      client = undefined;
      handlers.clear();
      resyncHandlers.clear();
      if (c !== undefined) {
        c.removeAllListeners('notification');
        await c.end().catch(() => undefined);
      }
    },
  };
}

/** The NOTIFY payloads for `events`: as few as fit under PostgreSQL's payload limit. */
function envelopes(origin: string, events: readonly GrantEvent[]): string[] {
  const payloads: string[] = [];
  const head = `{"origin":${JSON.stringify(origin)},"events":[`;
  let chunk: string[] = [];
  let size = 0;
  for (const event of events) {
    const json = JSON.stringify(event);
    if (chunk.length > 0 && head.length + size + json.length + 2 > MAX_PAYLOAD_BYTES) {
      payloads.push(`${head}${chunk.join(',')}]}`);
      chunk = [];
      size = 0;
    }
    chunk.push(json);
    size += json.length + 1;
  }
  payloads.push(`${head}${chunk.join(',')}]}`);
  return payloads;
}

function parseEnvelope(payload: string): Envelope | undefined {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { origin, events } = value as { origin?: unknown; events?: unknown };
  if (typeof origin !== 'string' || !Array.isArray(events)) return undefined;
  return events.every(isGrantEvent) ? { origin, events } : undefined;
}

function isGrantEvent(event: unknown): event is GrantEvent {
  if (typeof event !== 'object' || event === null) return false;
  const e = event as Partial<Record<keyof GrantEvent, unknown>>;
  return (
    typeof e.type === 'string' &&
    TYPES.has(e.type as GrantEvent['type']) &&
    typeof e.grantId === 'string' &&
    typeof e.requesterId === 'string' &&
    typeof e.expiresAt === 'string' &&
    typeof e.activatedAt === 'string'
  );
}
