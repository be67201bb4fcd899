/**
 * The user's story, end to end: `phigate demo --script` as a person would run it, through the real CLI, the real
 * HTTP API, real tokens from the development issuer, and a real PostgreSQL.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createEmptyDatabase } from '../support/database.js';
import { runCli } from '../support/cli.js';

describe('phigate demo --script', () => {
  let dataDir: string;
  let database: Awaited<ReturnType<typeof createEmptyDatabase>>;
  before(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'phigate-demo-'));
    chmodSync(dataDir, 0o711);
    database = await createEmptyDatabase();
  });
  after(async () => {
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('plays request → approval → active → expiry, refusals and break-glass, and exits 0', async () => {
    const result = await runCli(['demo', '--script', '--grant-seconds', '3'], {
      PHIGATE_DATA_DIR: dataDir,
      PHIGATE_DATABASE_URL: database.url,
    });
    assert.equal(result.code, 0, `demo failed:\n${result.stdout}\n${result.stderr}`);
    for (const expected of [
      /is pending/,
      /cannot approve his own request/,
      /grant is active until/,
      /over the role's maximum is refused/,
      /breaks the glass: active at once, review item open, critical alert raised/,
      /expired by itself \d+ ms after its end time/,
      /every step behaved/,
    ]) {
      assert.match(result.stdout, expected);
    }
    assert.doesNotMatch(result.stdout, /✘/);
  });
});
