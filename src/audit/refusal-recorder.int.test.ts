import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { createAuditWriter } from './audit-writer.js';
import { createRefusalRecorder } from './refusal-recorder.js';

describe('refused requests audit (bounded per address and minute)', () => {
  let db: TestDatabase;
  let nowMs: number;
  const clock = { now: () => new Date(nowMs) };
  before(async () => (db = await createTestDatabase()));
  // Each test reads the records after the log's end when it began (the log is append-only).
  beforeEach(() => (nowMs = Date.parse('2026-01-01T00:00:00Z')));
  after(() => db.drop());

  const recorder = (more: { action?: 'auth.reject' | 'api.reject'; perAddressPerMinute?: number } = {}) =>
    createRefusalRecorder({
      writer: createAuditWriter({ db: db.db, clock }),
      clock,
      logger: { warn: () => undefined },
      perAddressPerMinute: 3,
      sweepIntervalMs: 0,
      ...more,
    });
  const attempt = {
    reasonCode: 'token.expired',
    clientAddress: '203.0.113.9',
    method: 'GET',
    route: '/v1/requests',
  };
  const recordsSince = async (seq: number) => {
    const rows = await db.db
      .selectFrom('audit_events')
      .select(['seq', 'canonical'])
      .where('seq', '>', seq)
      .orderBy('seq')
      .execute();
    return rows.map(
      (r) =>
        JSON.parse(r.canonical) as {
          action: string;
          reasonCode: string;
          who: { actor: string };
          how: { clientAddress: string };
          detail: Record<string, unknown>;
        },
    );
  };
  const lastSeq = async () =>
    Number(
      (
        await db.db
          .selectFrom('audit_events')
          .select((e) => e.fn.max('seq').as('m'))
          .executeTakeFirst()
      )?.m ?? 0,
    );

  it('records refusals, bounded per address, and counts what it left out once the minute is over (ATTACKS 39)', async () => {
    const from = await lastSeq();
    const r = recorder();
    for (let i = 0; i < 50; i++) await r.record(attempt);
    await r.record({ ...attempt, clientAddress: '198.51.100.1' });
    nowMs += 61_000;
    await r.record(attempt);
    const records = await recordsSince(from);
    assert.equal(
      records.length,
      6,
      '3 for the flooding address, 1 for the other, its summary, 1 in the next minute',
    );
    const summary = records[4]!;
    assert.equal(summary.reasonCode, 'token.expired');
    assert.equal(summary.how.clientAddress, '203.0.113.9');
    assert.equal(summary.detail['suppressed'], 47);
    assert.deepEqual(summary.detail['suppressedReasons'], { 'token.expired': 47 });
    assert.equal(summary.detail['windowStart'], '2026-01-01T00:00:00.000Z');
    assert.equal(summary.detail['windowEnd'], '2026-01-01T00:01:00.000Z');
    assert.equal(records[5]!.detail['suppressed'], undefined);
    await r.close();
  });

  it('counts a flood that stops, on close, with who made it and why', async () => {
    const from = await lastSeq();
    const r = recorder({ action: 'api.reject' });
    const dan = { actor: 'https://idp.test#dan', name: 'dan' };
    for (let i = 0; i < 10; i++)
      await r.record({ ...attempt, reasonCode: 'request.too-large', status: 413, who: dan });
    await r.record({ ...attempt, reasonCode: 'request.invalid', status: 400, who: dan });
    assert.equal((await recordsSince(from)).length, 3, 'the rest waits for the minute to end');
    await r.close();
    const records = await recordsSince(from);
    assert.equal(records.length, 4);
    assert.ok(records.every((e) => e.action === 'api.reject' && e.who.actor === dan.actor));
    assert.equal(records[0]!.detail['status'], 413);
    assert.deepEqual(records[3]!.detail['suppressedReasons'], {
      'request.too-large': 7,
      'request.invalid': 1,
    });
    assert.equal(records[3]!.reasonCode, 'request.too-large');
  });

  it('sums up idle addresses when it sweeps, and forgets them', async () => {
    const from = await lastSeq();
    const r = createRefusalRecorder({
      writer: createAuditWriter({ db: db.db, clock }),
      clock,
      logger: { warn: () => undefined },
      perAddressPerMinute: 1,
      sweepIntervalMs: 20,
    });
    await r.record(attempt);
    await r.record({ ...attempt, who: { actor: 'https://idp.test#a' } });
    await r.record({ ...attempt, who: { actor: 'https://idp.test#b' } });
    nowMs += 60_000;
    const end = Date.now() + 5_000;
    while ((await recordsSince(from)).length < 2 && Date.now() < end)
      await new Promise((res) => setTimeout(res, 20));
    const records = await recordsSince(from);
    assert.equal(records.length, 2);
    assert.equal(records[1]!.detail['suppressed'], 2);
    assert.equal(records[1]!.who.actor, 'anonymous', 'two people behind one address: nobody in particular');
    await r.close();
    assert.equal((await recordsSince(from)).length, 2, 'nothing is counted twice');
  });
});
