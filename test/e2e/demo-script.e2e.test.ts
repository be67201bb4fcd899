/**
 * The user's story, end to end: `phigate demo --script` as a person would run it (`npm start`'s path: the embedded
 * PostgreSQL, which also hosts the synthetic clinic behind the gateway), through the real CLI, the real HTTP API,
 * real tokens from the development issuer, and the real psql through the gateway.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { psqlAvailable } from '../../src/demo/psql.js';
import { runCli } from '../support/cli.js';

describe('phigate demo --script', () => {
  let dataDir: string;
  before(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'phigate-demo-'));
    chmodSync(dataDir, 0o711);
  });
  after(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('plays request → approval → active → expiry, refusals and break-glass, and exits 0', async () => {
    const result = await runCli(['demo', '--script', '--grant-seconds', '6'], { PHIGATE_DATA_DIR: dataDir });
    assert.equal(result.code, 0, `demo failed:\n${result.stdout}\n${result.stderr}`);
    for (const expected of [
      /is pending/,
      /cannot approve his own request/,
      /grant is active until/,
      /over the role's maximum is refused/,
      /breaks the glass: active at once, review item open, critical alert raised/,
      /expired by itself \d+ ms after its end time/,
      ...(psqlAvailable()
        ? [
            /without a grant is refused: .*no active grant for clinic-db/,
            /psql reads through the gateway: 6 encounters — only those of the 2 patients/,
            /masked by the database itself: "ps_[0-9a-f]{24}\|\*\*\*\|\d{4}-01-01\|\d{3}"/,
            /column "ssn" does not exist/,
            /guard refuses COPY TO PROGRAM/,
            /the gateway cuts it: .*ended at/,
            /No backend and no role of the grant remain/,
            /phigate finds the 5 on her care team/,
            /handed over to another team .* ends her grant — revoked by the system, "care-relation-ended"/,
          ]
        : []),
      /every step behaved/,
    ]) {
      assert.match(result.stdout, expected);
    }
    assert.doesNotMatch(result.stdout, /✘/);
  });

  it('plays again on the same data directory: the clinic and its care team are as the first run found them', async () => {
    const result = await runCli(['demo', '--script', '--grant-seconds', '3'], { PHIGATE_DATA_DIR: dataDir });
    assert.equal(result.code, 0, `second demo failed:\n${result.stdout}\n${result.stderr}`);
    if (psqlAvailable()) assert.match(result.stdout, /phigate finds the 5 on her care team/);
    assert.doesNotMatch(result.stdout, /✘/);
  });
});
