/**
 * "An event is acknowledged only after commit; killing the process (SIGKILL) under load loses no acknowledged event
 * and leaves a log that verifies." A real child process appends under load and is really killed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { buildTree } from '../../src/audit/tree-store.js';
import { verifyStore } from '../../src/audit/verify-store.js';
import { startAuditLoad } from '../support/audit-load-runner.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

describe('audit log under SIGKILL', () => {
  let db: TestDatabase;
  let dir: string;
  before(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(path.join(tmpdir(), 'phigate-kill-'));
  });
  after(async () => {
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses no acknowledged event and leaves a log that verifies', async () => {
    // Killed mid-flight: thousands acknowledged, many more queued and in transactions.
    const load = await startAuditLoad(db.url, dir, 3000);
    load.child.kill('SIGKILL');
    assert.equal(await load.exited, 'SIGKILL');
    const acked = [...load.acked];

    const seqs = await sql<{ seq: number }>`select seq from audit_events order by seq`.execute(db.db);
    const stored = new Set(seqs.rows.map((r) => Number(r.seq)));
    assert.deepEqual(
      acked.filter((s) => !stored.has(s)),
      [],
      'every acknowledged event is in the store',
    );
    assert.equal(stored.size, Math.max(...stored), 'sequence numbers have no gaps');

    // The checkpoints the dead process signed hold against the recomputed log.
    await buildTree(db.db);
    const report = await verifyStore(db.db, { trustedKeys: [load.publicKey], origin: 'test-audit' });
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.ok(report.checkpointsVerified >= 1, 'checkpoints were signed under load');
    assert.ok(report.size >= acked.length);
  });
});
