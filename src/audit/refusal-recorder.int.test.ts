import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { createAuditWriter } from './audit-writer.js';
import { createRefusalRecorder } from './refusal-recorder.js';

describe('refused authentication audit', () => {
  let db: TestDatabase;
  before(async () => (db = await createTestDatabase()));
  after(() => db.drop());

  it('records refusals, bounded per address, and summarises what it suppressed (ATTACKS 39)', async () => {
    let nowMs = Date.parse('2026-01-01T00:00:00Z');
    const clock = { now: () => new Date(nowMs) };
    const recorder = createRefusalRecorder({
      writer: createAuditWriter({ db: db.db, clock }),
      clock,
      logger: { warn: () => undefined },
      perAddressPerMinute: 3,
    });
    const attempt = {
      reasonCode: 'token.expired',
      clientAddress: '203.0.113.9',
      method: 'GET',
      route: '/v1/requests',
    };
    for (let i = 0; i < 50; i++) await recorder.record(attempt);
    await recorder.record({ ...attempt, clientAddress: '198.51.100.1' });
    nowMs += 61_000;
    await recorder.record(attempt);
    const rows = await db.db.selectFrom('audit_events').select(['canonical']).orderBy('seq').execute();
    const details = rows.map((r) => (JSON.parse(r.canonical) as { detail: Record<string, unknown> }).detail);
    assert.equal(rows.length, 5, '3 for the flooding address, 1 for the other, 1 in the next minute');
    assert.equal(details[4]?.['suppressedSinceLastRecord'], 47);
  });
});
