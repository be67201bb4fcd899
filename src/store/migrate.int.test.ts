import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { openDatabase } from './database.js';
import { migrateToLatest } from './migrate.js';
import { createEmptyDatabase, testTargets } from '../../test/support/database.js';

for (const target of testTargets()) {
  describe(`migrations on ${target.name} PostgreSQL`, () => {
    it('apply once, and a second run (another replica starting) applies nothing', async () => {
      const empty = await createEmptyDatabase(target);
      const a = openDatabase(empty.url);
      const b = openDatabase(empty.url);
      try {
        const [first, second] = await Promise.all([
          migrateToLatest(a.db as never),
          migrateToLatest(b.db as never),
        ]);
        assert.deepEqual([...first, ...second].sort(), ['0001-control-plane']);
        assert.deepEqual(await migrateToLatest(a.db as never), []);
      } finally {
        await a.close();
        await b.close();
        await empty.drop();
      }
    });

    it('the audit table refuses UPDATE, DELETE and TRUNCATE even for its owner', async () => {
      const empty = await createEmptyDatabase(target);
      const h = openDatabase(empty.url);
      try {
        await migrateToLatest(h.db as never);
        await sql`insert into audit_events (seq, recorded_at, action, outcome, event)
                  values (1, now(), 'test', 'success', '{}')`.execute(h.db);
        for (const stmt of [
          sql`update audit_events set action = 'forged'`,
          sql`delete from audit_events`,
          sql`truncate audit_events`,
        ]) {
          await assert.rejects(stmt.execute(h.db), /append-only/);
        }
        const rows = await h.db.selectFrom('audit_events').select(['seq', 'action']).execute();
        assert.deepEqual(rows, [{ seq: 1, action: 'test' }]);
      } finally {
        await h.close();
        await empty.drop();
      }
    });
  });
}
