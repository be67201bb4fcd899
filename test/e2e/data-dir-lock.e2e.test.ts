/**
 * One owner per data directory (issue 14, item 1). A second phigate on a directory that a live phigate holds is
 * refused, naming the holder, and the holder's PostgreSQL keeps running (it used to be stopped as an "orphan");
 * once the holder is dead (SIGKILL, its PostgreSQL left behind) the next start takes the directory over.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { isPhigateError } from '../../src/lib/errors.js';
import { LOCK_FILE } from '../../src/store/data-dir-lock.js';
import { startEmbeddedPostgres } from '../../src/store/embedded-postgres.js';
import { REPO_ROOT } from '../support/cli.js';

async function selectOne(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ n: number }>('select 1 as n')).rows[0]!.n;
  } finally {
    await client.end();
  }
}

describe('data directory lock', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'phigate-lock-'));
  chmodSync(dir, 0o711); // when tests run as root, the embedded server's user must traverse it
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a second owner while the first lives, and takes over once it is dead', async () => {
    const dataDir = path.join(dir, 'pg');
    const holder = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(REPO_ROOT, 'test', 'support', 'embedded-holder.ts'), dataDir],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise((resolve) => holder.on('close', resolve));
    try {
      const holderUrl = await new Promise<string>((resolve, reject) => {
        let out = '';
        let err = '';
        holder.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /^ready (\S+)$/m.exec(out);
          if (m) resolve(m[1]!);
        });
        holder.stderr.on('data', (c: Buffer) => (err += c.toString()));
        void exited.then(() => reject(new Error(`the holder ended: ${err}`)));
      });

      await assert.rejects(startEmbeddedPostgres({ dataDir }), (err: unknown) => {
        assert.ok(isPhigateError(err));
        assert.equal(err.code, 'data-dir.in-use');
        assert.match(err.message, new RegExp(`in use by another phigate \\(pid ${holder.pid}\\b`));
        assert.match(err.message, /PHIGATE_DATA_DIR/);
        return true;
      });
      // The refused start touched nothing: the holder's server still answers, and its lock is still there.
      assert.equal(await selectOne(holderUrl), 1);
      assert.ok(existsSync(path.join(dataDir, LOCK_FILE)));

      // The holder dies without cleaning up; its PostgreSQL is now an orphan that the next owner stops.
      holder.kill('SIGKILL');
      await exited;
      const next = await startEmbeddedPostgres({ dataDir });
      try {
        assert.equal(await selectOne(next.url), 1);
        await assert.rejects(selectOne(holderUrl), 'the orphan was stopped');
      } finally {
        await next.stop();
      }
      assert.equal(existsSync(path.join(dataDir, LOCK_FILE)), false, 'a clean stop releases the lock');
    } finally {
      holder.kill('SIGKILL');
    }
  });
});
