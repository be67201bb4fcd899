/**
 * Issue 15, item 1: no unsigned window an insider with the database superuser's powers can rewrite. Each attack is
 * made as such an insider makes it — triggers switched off (`alter table … disable trigger`, or
 * `session_replication_role = replica`), rows and their leaf hashes rewritten together — on events appended AFTER
 * the latest signed checkpoint, and each must make the next checkpoint refuse (`audit.damaged`, an alert) rather than
 * sign the rewrite; a restart on such a log must refuse to append.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { sql, type RawBuilder } from 'kysely';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { sampleEvent, testAuditService } from '../../test/support/audit.js';
import { person } from '../../test/support/helpers.js';
import { readHead, sameFrontier } from './appended-tree.js';
import { appendAudit } from './audit-log.js';
import { FrontierBuilder } from './merkle-frontier.js';
import { verifyStore } from './verify-store.js';
import { fileWitness } from './witness.js';

const priya = person('priya', ['privacy-office']);

type Audit = ReturnType<typeof testAuditService>;

async function append(audit: Audit, n: number, from = 0): Promise<number[]> {
  const seqs = await Promise.all(
    Array.from({ length: n }, (_, i) => audit.writer.append([sampleEvent(audit, from + i, ['MRN-1'])])),
  );
  return seqs.flat().sort((a, b) => a - b);
}

/**
 * A superuser's session that fires no ordinary trigger. The append-only triggers fire ALWAYS (migration 0005), so the
 * insider first makes them ordinary again, and puts them back afterwards: nothing is left in the catalog.
 */
async function asReplica(db: TestDatabase, statements: RawBuilder<unknown>[]): Promise<void> {
  await db.db.transaction().execute(async (tx) => {
    await sql`alter table audit_events enable trigger audit_events_no_update`.execute(tx);
    await sql`set local session_replication_role = replica`.execute(tx);
    for (const s of statements) await s.execute(tx);
    await sql`set local session_replication_role = origin`.execute(tx);
    await sql`alter table audit_events enable always trigger audit_events_no_update`.execute(tx);
  });
}

/** The same with the triggers switched off and on again, as `phigate audit verify` cannot see afterwards. */
async function withTriggersOff(db: TestDatabase, statements: RawBuilder<unknown>[]): Promise<void> {
  await db.db.transaction().execute(async (tx) => {
    await sql`alter table audit_events disable trigger audit_events_no_update`.execute(tx);
    for (const s of statements) await s.execute(tx);
    await sql`alter table audit_events enable always trigger audit_events_no_update`.execute(tx);
  });
}

const recomputeLeaf = (where: RawBuilder<unknown>): RawBuilder<unknown> =>
  sql`update audit_events set leaf_hash = sha256('\\x00'::bytea || convert_to(canonical, 'UTF8')) where ${where}`;

async function rejectsDamaged(work: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(
    work,
    (err: Error & { code?: string }) => {
      assert.equal(err.code, 'audit.damaged', `${message}: ${err.message}`);
      return true;
    },
    message,
  );
}

async function alerts(db: TestDatabase): Promise<number> {
  const r = await sql<{
    n: number;
  }>`select count(*)::int as n from alert_events where kind = 'audit.damaged'`.execute(db.db);
  return r.rows[0]!.n;
}

describe('issue 15: the events after the latest checkpoint cannot be rewritten unnoticed', () => {
  let db: TestDatabase;
  let audit: Audit;
  let signedSize: number;
  beforeEach(async () => {
    db = await createTestDatabase();
    audit = testAuditService(db.db);
    await append(audit, 20);
    signedSize = (await audit.signCheckpoint(priya)).size;
    // The window: events appended, committed, not yet signed.
    await append(audit, 12, 100);
  });
  afterEach(async () => {
    await audit.stop();
    await db.drop();
  });

  it('an event altered with its leaf recomputed: the next checkpoint refuses, with an alert', async () => {
    const victim = signedSize + 3;
    await asReplica(db, [
      sql`update audit_events set canonical = replace(canonical, 'TREAT', 'HPAYMT') where seq = ${victim}`,
      recomputeLeaf(sql`seq = ${victim}`),
    ]);
    await rejectsDamaged(audit.signCheckpoint(priya), 'altered after it was appended');
    assert.equal(await alerts(db), 1, 'an alert is raised');
    assert.equal(
      (await audit.checkpointer.latest())!.size,
      signedSize,
      'nothing was signed over the rewrite',
    );
    await rejectsDamaged(audit.signCheckpoint(priya), 'and again');
    assert.equal(await alerts(db), 1, 'once per damage, not per attempt');
  });

  it('a replica-role session alone no longer skips the append-only trigger', async () => {
    await assert.rejects(
      db.db.transaction().execute(async (tx) => {
        await sql`set local session_replication_role = replica`.execute(tx);
        await sql`update audit_events set action = action where seq = 1`.execute(tx);
      }),
      /append-only/,
    );
  });

  it('the tail deleted (and the head wound back): refused, not an internal error', async () => {
    await withTriggersOff(db, [sql`delete from audit_events where seq > ${signedSize + 8}`]);
    await sql`update audit_head set last_seq = ${signedSize + 8}`.execute(db.db);
    await rejectsDamaged(audit.signCheckpoint(priya), 'tail deleted');
  });

  it('an event deleted and the rest renumbered, leaves kept: refused', async () => {
    await withTriggersOff(db, [
      sql`delete from audit_events where seq = ${signedSize + 2}`,
      sql`update audit_events set seq = seq + 1000000 where seq > ${signedSize + 2}`,
      sql`update audit_events set seq = seq - 1000001 where seq > 1000000`,
    ]);
    await sql`update audit_head set last_seq = last_seq - 1`.execute(db.db);
    await rejectsDamaged(audit.signCheckpoint(priya), 'deleted and renumbered');
  });

  it('two events swapped with their leaves (each row self-consistent): refused', async () => {
    const [a, b] = [signedSize + 4, signedSize + 5];
    await asReplica(db, [
      sql`update audit_events set seq = 1000000 where seq = ${a}`,
      sql`update audit_events set seq = ${a} where seq = ${b}`,
      sql`update audit_events set seq = ${b} where seq = 1000000`,
    ]);
    await rejectsDamaged(audit.signCheckpoint(priya), 'reordered');
  });

  it('a restart on a rewritten log refuses to start or append; restored, it resumes', async () => {
    const victim = signedSize + 2; // signedSize + 1 records the signing itself
    await audit.stop();
    await asReplica(db, [
      sql`update audit_events set canonical = replace(canonical, 'TREAT', 'HPAYMT') where seq = ${victim}`,
      recomputeLeaf(sql`seq = ${victim}`),
    ]);
    audit = testAuditService(db.db);
    await rejectsDamaged(audit.start(), 'start');
    await rejectsDamaged(audit.writer.append([sampleEvent(audit, 1)]), 'append');
    await asReplica(db, [
      sql`update audit_events set canonical = replace(canonical, 'HPAYMT', 'TREAT') where seq = ${victim}`,
      recomputeLeaf(sql`seq = ${victim}`),
    ]);
    audit = testAuditService(db.db);
    await audit.start();
    const seqs = await append(audit, 3, 500);
    assert.ok((await audit.signCheckpoint(priya)).size >= seqs.at(-1)!);
  });

  it("the head's edge rewritten to match altered rows is still refused: the writer's own copy is in memory", async () => {
    const victim = signedSize + 6;
    await asReplica(db, [
      sql`update audit_events set canonical = replace(canonical, 'TREAT', 'HPAYMT') where seq = ${victim}`,
      recomputeLeaf(sql`seq = ${victim}`),
      sql`update audit_head set frontier = '{}'`,
    ]);
    await rejectsDamaged(audit.signCheckpoint(priya), 'edge rewritten');
  });
});

describe('issue 15: every batch is signed within the delay, and published', () => {
  let db: TestDatabase;
  let dir: string;
  before(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(path.join(tmpdir(), 'phigate-window-'));
  });
  after(async () => {
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a batch is covered by a signed, witnessed checkpoint without anyone asking', async () => {
    const witnessFile = path.join(dir, 'witness.log');
    const audit = testAuditService(db.db, { witnesses: [fileWitness(witnessFile)] });
    await audit.start();
    try {
      const [seq] = await audit.writer.append([sampleEvent(audit, 1)]);
      // Polled, not timed: the checkpoint comes within the delay; the test waits as long as the machine needs.
      for (;;) {
        const latest = await audit.checkpointer.latest();
        if (
          latest !== undefined &&
          latest.size >= seq! &&
          readFileSync(witnessFile, 'utf8').includes(`\n${latest.size}\n`)
        )
          break;
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await audit.stop();
    }
  });

  it("a transaction's append extends the head's tree in SQL exactly as the writer does in memory", async () => {
    const audit = testAuditService(db.db);
    for (let n = 1; n <= 9; n++) {
      await db.db.transaction().execute((tx) =>
        appendAudit(
          tx,
          Array.from({ length: n }, (_, i) => sampleEvent(audit, i)),
          new Date(),
        ),
      );
      const leaves = await sql<{
        leaf_hash: Buffer;
      }>`select leaf_hash from audit_events order by seq`.execute(db.db);
      const builder = new FrontierBuilder();
      for (const r of leaves.rows) builder.push(r.leaf_hash);
      const head = await readHead(db.db);
      assert.ok(head.frontier !== undefined && sameFrontier(head.frontier, builder.snapshot()), `after ${n}`);
    }
  });

  it('events appended by control-plane transactions are checked and signed too; altered, they are refused', async () => {
    const audit = testAuditService(db.db);
    await append(audit, 5);
    const [foreign] = await db.db
      .transaction()
      .execute((tx) => appendAudit(tx, [sampleEvent(audit, 7)], new Date()));
    await append(audit, 5, 10);
    const signed = await audit.signCheckpoint(priya);
    assert.ok(signed.size > foreign!);
    assert.equal((await verifyStore(db.db, { trustedKeys: [audit.publicKey] })).ok, true);

    const [next] = await db.db
      .transaction()
      .execute((tx) => appendAudit(tx, [sampleEvent(audit, 8)], new Date()));
    await asReplica(db, [
      sql`update audit_events set canonical = replace(canonical, 'TREAT', 'HPAYMT') where seq = ${next!}`,
      recomputeLeaf(sql`seq = ${next!}`),
    ]);
    // The writer catches up with the head's edge (which the transaction extended): the rewrite does not fold into it.
    await rejectsDamaged(audit.signCheckpoint(priya), 'a control-plane event altered');
    await audit.stop();
  });
});
