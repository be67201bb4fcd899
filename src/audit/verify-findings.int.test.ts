/**
 * Issue 15, item 2: `verify` says what it saw — the store's defences switched off or weakened, the first event
 * actually altered or moved, and a range a checkpoint covers that is inconsistent kept apart from "event N is
 * altered". Tampering as the database superuser does it, on real PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql, type RawBuilder } from 'kysely';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { sampleEvent, testAuditService } from '../../test/support/audit.js';
import { person } from '../../test/support/helpers.js';
import { verifyStore } from './verify-store.js';

const priya = person('priya', ['privacy-office']);

async function asSuperuser(db: TestDatabase, statements: RawBuilder<unknown>[]): Promise<void> {
  await db.db.transaction().execute(async (tx) => {
    for (const s of statements) await s.execute(tx);
  });
}

describe('issue 15: verify reports what it saw', () => {
  let db: TestDatabase;
  let audit: ReturnType<typeof testAuditService>;
  const verify = () => verifyStore(db.db, { trustedKeys: [audit.publicKey], origin: 'test-audit' });
  const codes = async (): Promise<string[]> => (await verify()).problems.map((p) => p.code);

  before(async () => {
    db = await createTestDatabase();
    audit = testAuditService(db.db);
    for (let i = 0; i < 40; i++) await audit.writer.append([sampleEvent(audit, i)]);
    await audit.signCheckpoint(priya);
  });
  after(async () => {
    await audit.stop();
    await db.drop();
  });

  it('a clean store verifies', async () => {
    const report = await verify();
    assert.equal(report.ok, true, JSON.stringify(report.problems));
  });

  it('an append-only trigger disabled, or no longer firing always, is a finding', async () => {
    await sql`alter table audit_events disable trigger audit_events_no_update`.execute(db.db);
    assert.deepEqual(await codes(), ['store.trigger-disabled']);
    await sql`alter table audit_events enable trigger audit_events_no_update`.execute(db.db);
    assert.deepEqual(await codes(), ['store.trigger-not-always']);
    await sql`alter table audit_checkpoints disable trigger user`.execute(db.db);
    assert.deepEqual(await codes(), [
      'store.trigger-not-always',
      'store.trigger-disabled',
      'store.trigger-disabled',
    ]);
    await sql`alter table audit_checkpoints enable always trigger audit_checkpoints_no_update`.execute(db.db);
    await sql`alter table audit_checkpoints enable always trigger audit_checkpoints_no_truncate`.execute(
      db.db,
    );
    await sql`alter table audit_events enable always trigger audit_events_no_update`.execute(db.db);
    assert.equal((await verify()).ok, true);
  });

  it('a revoke undone, for anyone or for the owner, is a finding', async () => {
    await sql`grant update on audit_events to public`.execute(db.db);
    await sql`grant delete on audit_tree_nodes to current_user`.execute(db.db);
    const report = await verify();
    assert.deepEqual(
      report.problems.map((p) => p.code),
      ['store.privilege-granted', 'store.privilege-granted'],
    );
    assert.ok(report.problems.some((p) => p.message.startsWith('PUBLIC holds UPDATE on audit_events')));
    await sql`revoke update on audit_events from public`.execute(db.db);
    await sql`revoke delete on audit_tree_nodes from current_user`.execute(db.db);
    assert.equal((await verify()).ok, true);
  });

  it('an audit table given to another owner is a finding', async () => {
    const role = `phigate_other_${Date.now()}`;
    await sql.raw(`create role ${role} nologin`).execute(db.db);
    try {
      await sql.raw(`alter table audit_checkpoints owner to ${role}`).execute(db.db);
      const report = await verify();
      assert.deepEqual(
        report.problems.map((p) => p.code),
        ['store.owner-changed'],
      );
    } finally {
      await sql.raw(`alter table audit_checkpoints owner to current_user`).execute(db.db);
      // The owner change carried the table's grants to the new owner; the revokes must be made again.
      await sql`revoke update, delete, truncate on audit_checkpoints from current_user`.execute(db.db);
      await sql.raw(`drop role ${role}`).execute(db.db);
    }
    assert.equal((await verify()).ok, true, JSON.stringify((await verify()).problems));
  });

  it('two signed events swapped with their leaves: the moved event is named, and the range kept apart', async () => {
    const [a, b] = [11, 12];
    const swap = [
      sql`alter table audit_events disable trigger audit_events_no_update`,
      sql`update audit_events set seq = 1000000 where seq = ${a}`,
      sql`update audit_events set seq = ${a} where seq = ${b}`,
      sql`update audit_events set seq = ${b} where seq = 1000000`,
      sql`alter table audit_events enable always trigger audit_events_no_update`,
    ];
    await asSuperuser(db, swap);
    const report = await verify();
    assert.equal(report.ok, false);
    assert.equal(report.firstBadSeq, a, JSON.stringify(report.problems));
    assert.ok(report.problems.some((p) => p.code === 'event.moved' && p.seq === a));
    assert.ok(report.problems.some((p) => p.code === 'checkpoint.mismatch' && p.lastSeq !== undefined));
    assert.ok(!report.problems.some((p) => p.code === 'event.altered'), 'each row is self-consistent');
    assert.notEqual(report.firstBadSeq, 1, 'event 1 is intact and is not named');
    await asSuperuser(db, swap);
  });

  it('after the latest checkpoint: a rewrite with the leaf recomputed, and a deleted tail, show against the head', async () => {
    const signed = (await audit.signCheckpoint(priya)).size;
    for (let i = 0; i < 6; i++) await audit.writer.append([sampleEvent(audit, 100 + i)]);
    const victim = signed + 3;
    const rewrite = (from: string, to: string) => [
      sql`alter table audit_events disable trigger audit_events_no_update`,
      sql`update audit_events set canonical = replace(canonical, ${from}, ${to}),
                                  leaf_hash = sha256('\\x00'::bytea || convert_to(replace(canonical, ${from}, ${to}), 'UTF8'))
           where seq = ${victim}`,
      sql`alter table audit_events enable always trigger audit_events_no_update`,
    ];
    await asSuperuser(db, rewrite('TREAT', 'HPAYMT'));
    const report = await verify();
    assert.ok(
      report.problems.some((p) => p.code === 'head.mismatch' && p.seq === signed + 1),
      JSON.stringify(report.problems),
    );
    await asSuperuser(db, rewrite('HPAYMT', 'TREAT'));
    const last = (await sql<{ n: number }>`select max(seq)::int as n from audit_events`.execute(db.db))
      .rows[0]!.n;
    await asSuperuser(db, [
      sql`alter table audit_events disable trigger audit_events_no_update`,
      sql`delete from audit_events where seq = ${last}`,
      sql`alter table audit_events enable always trigger audit_events_no_update`,
    ]);
    const cut = await verify();
    assert.ok(
      cut.problems.some((p) => p.code === 'head.mismatch' && p.seq === last),
      JSON.stringify(cut.problems),
    );
  });
});
