/**
 * The group-commit writer's appends commit without waiting for the disk (so the head lock is held briefly); callers
 * are answered only after a WAL flush that covers them. This test
 * crashes PostgreSQL itself (SIGKILL to the postmaster: shared WAL buffers not yet written are gone) under load,
 * restarts it, and checks that every acknowledged event survived crash recovery and that the log verifies. (With the
 * flush replaced by a no-op, this test fails: acknowledged events are lost.)
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { sql } from 'kysely';
import { buildTree } from '../../src/audit/tree-store.js';
import { verifyStore } from '../../src/audit/verify-store.js';
import { openDatabase } from '../../src/store/database.js';
import { startEmbeddedPostgres } from '../../src/store/embedded-postgres.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import { startAuditLoad } from '../support/audit-load-runner.js';

describe('audit log across a PostgreSQL crash', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'phigate-crash-'));
  chmodSync(dir, 0o711); // when tests run as root, the embedded server's user must traverse it
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps every acknowledged event when the database server dies mid-load', async () => {
    const dataDir = path.join(dir, 'pg');
    let server = await startEmbeddedPostgres({ dataDir });
    const url = server.url;
    const setup = openDatabase(url);
    await migrateToLatest(setup.db as never);
    await setup.close();

    const load = await startAuditLoad(url, dir, 3000);
    // The crash: the postmaster dies at once; its backends and WAL writer follow without writing anything more.
    const pid = Number(readFileSync(path.join(dataDir, 'cluster', 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(pid, 'SIGKILL');
    load.child.kill('SIGKILL');
    await load.exited;
    const acked = [...load.acked];
    await new Promise((r) => setTimeout(r, 500));

    server = await startEmbeddedPostgres({ dataDir });
    const db = openDatabase(server.url);
    try {
      const rows = await sql<{ seq: number }>`select seq from audit_events order by seq`.execute(db.db);
      const stored = new Set(rows.rows.map((r) => Number(r.seq)));
      assert.deepEqual(
        acked.filter((s) => !stored.has(s)),
        [],
        'every acknowledged event survived crash recovery',
      );
      assert.equal(stored.size, Math.max(...stored), 'no gaps');
      await buildTree(db.db);
      const report = await verifyStore(db.db, { trustedKeys: [load.publicKey] });
      assert.equal(report.ok, true, JSON.stringify(report.problems));
    } finally {
      await db.close();
      await server.stop();
    }
  });
});
