/**
 * How the relay writes to the server, message boundaries exactly: the messages of one client chunk go in as few
 * writes as the protocol allows — one per point where the server answers — and what is held when the session ends
 * is dropped, except before a client's own Terminate. In-memory streams stand in for the two sockets, so each write
 * the relay makes is seen as made (the real sockets are in relay.int.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Duplex } from 'node:stream';
import * as fe from './frontend-encode.js';
import { startRelay, type RelayOptions } from './relay.js';

/** A socket stand-in that keeps every write the relay makes, and whether it was ended or destroyed. */
class RecordingSocket extends Duplex {
  readonly writes: Buffer[] = [];
  ended = false;
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.writes.push(chunk);
    done();
  }
  override _final(done: (err?: Error | null) => void): void {
    this.ended = true;
    done();
  }
}

function relay(
  options: { auditDelayMs?: number; guard?: RelayOptions['guard']; clock?: RelayOptions['clock'] } = {},
) {
  const client = new RecordingSocket();
  const upstream = new RecordingSocket();
  const audited: string[] = [];
  const ends: string[] = [];
  startRelay({
    client,
    upstream,
    parameters: new Map(),
    cancelKey: { processId: 1, secretKey: 2 },
    audit: async (s) => {
      if (options.auditDelayMs) await new Promise((r) => setTimeout(r, options.auditDelayMs));
      audited.push(`${s.kind} ${s.sql}`);
    },
    ...(options.guard === undefined ? {} : { guard: options.guard }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    endsAt: new Date(Date.now() + 60_000),
    grantLabel: 'the test grant',
    onEnd: (reason) => ends.push(reason),
  });
  const settled = () => new Promise((r) => setTimeout(r, 20 + 25 * (options.auditDelayMs ?? 0)));
  return { client, upstream, audited, ends, settled };
}

const batch = (sql: string, value: string) => [
  fe.parse('', sql),
  fe.bind('', '', [Buffer.from(value)]),
  fe.execute(''),
  fe.sync(),
];

describe('relay writes to the server', () => {
  it('sends an extended batch that arrived in one chunk in one write', async () => {
    const r = relay();
    const messages = batch('select $1::int', '7');
    r.client.push(Buffer.concat(messages));
    await r.settled();
    assert.deepEqual(r.upstream.writes, [Buffer.concat(messages)]);
    assert.deepEqual(r.audited, ['parse select $1::int', 'execute select $1::int']);
  });

  it('writes at each message the server answers: one write per batch or simple query of a pipeline', async () => {
    const r = relay();
    const first = batch('select $1::int', '1');
    const flushed = [fe.parse('s', 'select 2'), fe.describe('S', 's'), fe.flush()];
    const query = fe.query('select 3');
    const open = [fe.bind('', 's', []), fe.execute('')]; // no Sync yet: written when the chunk is done
    r.client.push(Buffer.concat([...first, query, ...flushed, ...open]));
    await r.settled();
    assert.deepEqual(r.upstream.writes, [
      Buffer.concat(first),
      query,
      Buffer.concat(flushed),
      Buffer.concat(open),
    ]);
  });

  it('keeps messages in order when a chunk arrives while the previous one is still being audited', async () => {
    const r = relay({ auditDelayMs: 5 });
    r.client.push(Buffer.concat(batch('select $1::int', '1')));
    r.client.push(fe.query('select 2'));
    r.client.push(Buffer.concat(batch('select $1::int', '3')));
    await r.settled();
    assert.deepEqual(
      Buffer.concat(r.upstream.writes),
      Buffer.concat([...batch('select $1::int', '1'), fe.query('select 2'), ...batch('select $1::int', '3')]),
    );
    assert.equal(r.upstream.writes.length, 3);
  });

  it('delivers what preceded a Terminate, then the Terminate, and ends the connection', async () => {
    const r = relay();
    // A COMMIT at Execute commits without a Sync: it must not be lost to the client's goodbye.
    const commit = [fe.parse('', 'commit'), fe.bind('', '', []), fe.execute('')];
    r.client.push(Buffer.concat([...commit, fe.terminate()]));
    await r.settled();
    assert.deepEqual(Buffer.concat(r.upstream.writes), Buffer.concat([...commit, fe.terminate()]));
    assert.ok(r.upstream.ended);
    assert.deepEqual(r.ends, ['client-closed']);
  });

  it('drops what is held when a statement of the same chunk is refused inside its batch', async () => {
    const r = relay({
      guard: async (sql) =>
        sql.includes('pg_read_file')
          ? { ok: false, code: '42501', reason: 'refused by the test guard' }
          : { ok: true },
    });
    r.client.push(
      Buffer.concat([
        fe.parse('a', 'select 1'),
        fe.bind('', 'a', []),
        fe.execute(''),
        fe.parse('b', "select pg_read_file('/etc/passwd')"),
        fe.sync(),
      ]),
    );
    await r.settled();
    // The batch's first statement never reaches the server: nothing of a batch with a refused statement runs.
    assert.deepEqual(r.upstream.writes, []);
    assert.match(Buffer.concat(r.client.writes).toString('latin1'), /refused by the test guard/);
    assert.ok(r.upstream.destroyed);
  });
});

describe('relay and the injected clock', () => {
  it('reads the grant’s end from the clock it is given: a statement after it is cut, not forwarded', async () => {
    // The grant ends in a minute of real time, but the injected clock is already past it.
    const r = relay({ clock: { now: () => new Date(Date.now() + 120_000) } });
    r.client.push(fe.query('select 1'));
    await r.settled();
    assert.deepEqual(r.upstream.writes, []);
    assert.deepEqual(r.audited, []);
    assert.deepEqual(r.ends, ['grant-ended']);
  });
});
