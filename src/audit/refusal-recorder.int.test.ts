import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { createAuditWriter } from './audit-writer.js';
import { createRefusalRecorder } from './refusal-recorder.js';

interface Row {
  reasonCode: string;
  how: { clientAddress: string };
  detail: Record<string, unknown>;
}

describe('refused authentication audit', () => {
  let db: TestDatabase;
  let nowMs: number;
  const clock = { now: () => new Date(nowMs) };
  before(async () => (db = await createTestDatabase()));
  after(() => db.drop());
  beforeEach(() => (nowMs = Date.parse('2026-01-01T00:00:00Z')));

  const rowsAfter = async (seq: number): Promise<Row[]> =>
    (
      await db.db
        .selectFrom('audit_events')
        .select(['canonical'])
        .where('seq', '>', seq)
        .orderBy('seq')
        .execute()
    ).map((r) => JSON.parse(r.canonical) as Row);
  const lastSeq = async (): Promise<number> =>
    Number(
      (
        await db.db
          .selectFrom('audit_events')
          .select((eb) => eb.fn.max('seq').as('seq'))
          .executeTakeFirst()
      )?.seq ?? 0,
    );
  const recorder = (perAddressPerMinute = 3) =>
    createRefusalRecorder({
      writer: createAuditWriter({ db: db.db, clock }),
      clock,
      logger: { warn: () => undefined },
      perAddressPerMinute,
    });

  it('records refusals, bounded per address, and summarises what it did not write one by one (ATTACKS 39)', async () => {
    const start = await lastSeq();
    const r = recorder();
    const attempt = {
      reasonCode: 'token.expired',
      clientAddress: '203.0.113.9',
      method: 'GET',
      route: '/v1/requests',
    };
    for (let i = 0; i < 50; i++) await r.record(attempt);
    await r.record({ ...attempt, clientAddress: '198.51.100.1' });
    nowMs += 61_000;
    await r.record(attempt);
    const rows = await rowsAfter(start);
    assert.equal(
      rows.length,
      6,
      '3 for the flooding address, 1 for the other, its summary, 1 in the next minute',
    );
    assert.deepEqual(rows[4]!.detail, {
      method: 'GET',
      route: '/v1/requests',
      count: 47,
      from: '2026-01-01T00:00:00.000Z',
      to: '2026-01-01T00:01:00.000Z',
    });
    assert.equal(rows[5]!.detail['count'], undefined);
    await r.close();
  });

  it('records a repeatable refusal once per address, reason and minute, then its count when the minute ends', async () => {
    const start = await lastSeq();
    const r = recorder(30);
    const probe = {
      reasonCode: 'gateway.cancel-unknown',
      clientAddress: '203.0.113.20',
      method: 'postgres',
      route: 'gateway startup',
      repeatable: true,
    } as const;
    for (let i = 0; i < 1000; i++) await r.record(probe);
    await r.record({ ...probe, reasonCode: 'gateway.startup-malformed' });
    await r.record({ ...probe, reasonCode: 'gateway.password', repeatable: false });
    await r.record({ ...probe, reasonCode: 'gateway.password', repeatable: false });
    assert.deepEqual(
      (await rowsAfter(start)).map((x) => x.reasonCode),
      ['gateway.cancel-unknown', 'gateway.startup-malformed', 'gateway.password', 'gateway.password'],
      'one record per repeatable reason; others one by one',
    );
    await r.flush();
    assert.equal((await rowsAfter(start)).length, 4, 'nothing summarised before the minute ends');
    nowMs += 60_000;
    await r.flush();
    const rows = await rowsAfter(start);
    assert.equal(rows.length, 5, 'one summary for the flood, none for reasons with nothing left over');
    assert.equal(rows[4]!.reasonCode, 'gateway.cancel-unknown');
    assert.equal(rows[4]!.how.clientAddress, '203.0.113.20');
    assert.equal(rows[4]!.detail['count'], 999);
    // A new minute: recorded once again.
    await r.record(probe);
    assert.equal((await rowsAfter(start)).length, 6);
    await r.close();
  });

  it('keeps no count behind at shutdown, and the table of addresses bounded', async () => {
    const start = await lastSeq();
    const r = createRefusalRecorder({
      writer: createAuditWriter({ db: db.db, clock }),
      clock,
      logger: { warn: () => undefined },
      maxAddresses: 2,
    });
    const probe = (clientAddress: string) =>
      r.record({
        reasonCode: 'gateway.preauth-limit',
        clientAddress,
        method: 'postgres',
        route: 'gateway startup',
        repeatable: true,
      });
    for (let i = 0; i < 5; i++) await probe('192.0.2.1');
    await probe('192.0.2.2');
    // A third address evicts the first; its count is written then, not lost.
    await probe('192.0.2.3');
    nowMs += 10_000;
    for (let i = 0; i < 3; i++) await probe('192.0.2.3');
    await r.close();
    const rows = await rowsAfter(start);
    const summaries = rows
      .filter((x) => x.detail['count'] !== undefined)
      .map((x) => [x.how.clientAddress, x.detail['count'], x.detail['to']]);
    assert.deepEqual(summaries, [
      ['192.0.2.1', 4, '2026-01-01T00:00:00.000Z'],
      ['192.0.2.3', 3, '2026-01-01T00:00:10.000Z'],
    ]);
    assert.equal(rows.length, 5);
  });

  it('writes the summary by itself shortly after the minute ends', async () => {
    const start = await lastSeq();
    const realClock = { now: () => new Date() };
    const r = createRefusalRecorder({
      writer: createAuditWriter({ db: db.db, clock: realClock }),
      clock: realClock,
      logger: { warn: () => undefined },
      windowMs: 200,
    });
    const probe = {
      reasonCode: 'gateway.startup-malformed',
      clientAddress: '192.0.2.9',
      method: 'postgres',
      route: 'gateway startup',
      repeatable: true,
    };
    for (let i = 0; i < 3; i++) await r.record(probe);
    const deadline = Date.now() + 5_000;
    while ((await rowsAfter(start)).length < 2 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    const rows = await rowsAfter(start);
    assert.equal(rows.length, 2);
    assert.equal(rows[1]!.detail['count'], 2);
    await r.close();
  });
});
