/**
 * One client session relayed to the database as the grant's role. Client messages are framed and decoded; each
 * statement (a simple Query, or a Parse and each Execute of the extended protocol) is audited BEFORE it is
 * forwarded, and if the audit cannot be written the client gets an error and nothing reaches the database; a guard
 * may refuse statements first (recorded, not run). Server
 * messages are passed through untouched. At the grant's end the session is cut: the client receives a FATAL naming
 * the grant and the time it ended, both sockets close, and the caller terminates the backend.
 *
 * Its parts: the client's side (relay-client-side.ts: guard, audit, forward), the database's side
 * (relay-server-side.ts: completions, termination), the prepared statements and portals (relay-prepared.ts), the
 * writes held for one system call (relay-held-writes.ts) and how the session ends (relay-lifetime.ts).
 */
import { systemClock } from '../../lib/clock.js';
import { authenticationOk, backendKeyData, parameterStatus, readyForQuery } from './backend-messages.js';
import { ClientSide } from './relay-client-side.js';
import { createHeldWrites } from './relay-held-writes.js';
import { startRelayLifetime } from './relay-lifetime.js';
import { createPreparedStatements } from './relay-prepared.js';
import { ServerSide } from './relay-server-side.js';
import type { RelayOptions, RelaySession, StatementToAudit } from './relay-types.js';
import { StatementTracker } from './statement-tracker.js';

export type { RelayOptions, RelaySession, StatementToAudit } from './relay-types.js';

export function startRelay(o: RelayOptions): RelaySession {
  const tracker = new StatementTracker(undefined, o.patientColumnOf);
  const inFlight = new Map<number, StatementToAudit>();
  // The transaction status the server last reported, for the ReadyForQuery the gateway sends itself.
  let transactionStatus: 'I' | 'T' | 'E' = 'I';
  const held = createHeldWrites(o.upstream);
  const life = startRelayLifetime({
    client: o.client,
    upstream: o.upstream,
    held,
    endsAt: o.endsAt,
    grantLabel: o.grantLabel,
    idleTimeoutMs: o.idleTimeoutMs,
    clock: o.clock ?? systemClock,
    running: () => tracker.pending,
    onEnd: (reason) => o.onEnd(reason),
  });

  o.client.write(
    Buffer.concat([
      authenticationOk(),
      ...[...o.parameters].map(([k, v]) => parameterStatus(k, v)),
      backendKeyData(o.cancelKey.processId, o.cancelKey.secretKey),
      readyForQuery('I'),
    ]),
  );

  const clientSide = new ClientSide({
    relay: o,
    life,
    held,
    prepared: createPreparedStatements(tracker),
    tracker,
    inFlight,
    transactionStatus: () => transactionStatus,
  });
  const serverSide = new ServerSide({
    relay: o,
    life,
    tracker,
    inFlight,
    onTransactionStatus: (status) => (transactionStatus = status),
  });
  o.client.on('data', (chunk: Buffer) => clientSide.onData(chunk));
  o.upstream.on('data', (chunk: Buffer) => serverSide.onData(chunk));
  o.client.on('close', () => life.finish('client-closed'));
  o.client.on('error', () => life.finish('error'));
  o.upstream.on('close', () => {
    if (!serverSide.terminating) life.finish('upstream-closed');
  });
  o.upstream.on('error', () => {
    if (!serverSide.terminating) life.finish('error');
  });

  return {
    cut: (reason, endedAt, message) => life.cut(reason, endedAt, message),
    ended: life.ended,
    get running() {
      return tracker.pending;
    },
  };
}
