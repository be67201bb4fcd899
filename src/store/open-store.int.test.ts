import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { migrations } from './migrations/index.js';
import { openStore } from './open-store.js';

describe('openStore with the embedded PostgreSQL', () => {
  it('initialises, migrates, and a second start reuses the same data', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'phigate-store-'));
    chmodSync(dataDir, 0o711); // when tests run as root, the server runs as "postgres" and must traverse it
    try {
      const first = await openStore({ dataDir });
      assert.ok(first.embedded, 'no URL given: phigate must start its own PostgreSQL');
      assert.deepEqual(first.applied, Object.keys(migrations));
      await first.db
        .insertInto('policy_versions')
        .values({ hash: 'h1', source_name: 'test.yaml', source: 'version: 1' })
        .execute();
      await first.close();

      const second = await openStore({ dataDir });
      assert.deepEqual(second.applied, [], 'schema already current');
      const rows = await second.db.selectFrom('policy_versions').select('hash').execute();
      assert.deepEqual(rows, [{ hash: 'h1' }]);
      await second.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('uses an external server when given a URL, starting nothing', async () => {
    const url = process.env.PHIGATE_TEST_DATABASE_URL ?? process.env.PHIGATE_TEST_EMBEDDED_URL;
    assert.ok(url);
    const { createEmptyDatabase } = await import('../../test/support/database.js');
    const empty = await createEmptyDatabase();
    const store = await openStore({ databaseUrl: empty.url, dataDir: '/nonexistent-never-used' });
    try {
      assert.equal(store.embedded, undefined);
      assert.deepEqual(store.applied, Object.keys(migrations));
    } finally {
      await store.close();
      await empty.drop();
    }
  });
});
