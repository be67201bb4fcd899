/**
 * Running as root where root usually works (issue 14, item 0): a clone in root's home (mode 0700) on a machine
 * without the server's system user. PostgreSQL refuses root, so phigate creates the user and, since that user cannot
 * enter the data directory, keeps the cluster in a reachable place, saying where once. CI runs as root; elsewhere
 * this test is skipped.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import { CLUSTER_POINTER } from './postgres-run-as.js';

const USER = 'phigate-test-pg';
const userExists = (): boolean => {
  try {
    execFileSync('id', ['-u', USER], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const removeUser = (): void => {
  if (userExists()) execFileSync('userdel', [USER], { stdio: 'ignore' });
};

describe(
  'embedded PostgreSQL as root',
  { skip: userInfo().uid !== 0 && 'needs root (CI runs as root)' },
  () => {
    const home = mkdtempSync(path.join(tmpdir(), 'phigate-roothome-'));
    const relocationRoot = mkdtempSync(path.join(tmpdir(), 'phigate-relocated-'));
    after(() => {
      rmSync(home, { recursive: true, force: true });
      rmSync(relocationRoot, { recursive: true, force: true });
      removeUser();
    });

    it('creates the missing system user and keeps the cluster where it can reach it', async () => {
      removeUser(); // left over from an aborted run
      chmodSync(home, 0o700); // like /root
      chmodSync(relocationRoot, 0o755); // like /var/lib
      const dataDir = path.join(home, 'clone', '.phigate', 'postgres');
      mkdirSync(path.dirname(dataDir), { recursive: true, mode: 0o700 });
      const notices: string[] = [];
      const options = { dataDir, systemUser: USER, relocationRoot, onNotice: (m: string) => notices.push(m) };

      const first = await startEmbeddedPostgres(options);
      try {
        const client = new pg.Client({ connectionString: first.url });
        await client.connect();
        const user = await client.query<{ u: string }>(`select current_setting('data_directory') as u`);
        await client.end();
        const clusterDir = user.rows[0]!.u;
        assert.ok(clusterDir.startsWith(relocationRoot + path.sep), clusterDir);
        assert.equal(
          readFileSync(path.join(dataDir, CLUSTER_POINTER), 'utf8').trim(),
          path.dirname(clusterDir),
        );
        assert.equal(statSync(clusterDir).uid, Number(execFileSync('id', ['-u', USER]).toString()));
      } finally {
        await first.stop();
      }
      assert.equal(notices.length, 2, notices.join('\n'));
      assert.match(notices[0]!, new RegExp(`created the "${USER}" system user`));
      assert.match(
        notices[1]!,
        new RegExp(`cannot enter ${dataDir.replaceAll('/', '\\/')}.*lives in ${relocationRoot}`),
      );
      assert.equal(statSync(home).mode & 0o777, 0o700, "root's home keeps its mode");

      // The next start finds the same cluster and says nothing more.
      notices.length = 0;
      const second = await startEmbeddedPostgres(options);
      await second.stop();
      assert.deepEqual(notices, []);
      assert.ok(existsSync(path.join(dataDir, 'superuser-password')));
    });
  },
);
