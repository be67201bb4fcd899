/**
 * Policy reload in a running server: SIGHUP's path (`reloadPolicy`) and the file watcher both put a valid new policy
 * in force, and an invalid one is reported while the previous policy stays in force.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createEmptyDatabase } from '../../test/support/database.js';
import { startPhigate, type RunningPhigate } from './start.js';

const policyWith = (role: string): string => `
version: 1
resources: { db: { kind: postgres } }
approvalRules:
  lead: { approvers: { groups: [clinical-leads] } }
roles:
  ${role}:
    resource: db
    eligibleGroups: [support]
    duration: { default: 10m, max: 1h }
    purposes: [HOPERAT]
    approval: lead
`;

describe('policy reload', () => {
  let dir: string;
  let policyFile: string;
  let database: Awaited<ReturnType<typeof createEmptyDatabase>>;
  let phigate: RunningPhigate;
  let token: string;

  const roleNames = async (): Promise<string[]> => {
    const res = await fetch(`${phigate.url}/v1/roles`, { headers: { authorization: `Bearer ${token}` } });
    return ((await res.json()) as { items: { name: string }[] }).items.map((r) => r.name);
  };

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'phigate-reload-'));
    chmodSync(dir, 0o711);
    policyFile = path.join(dir, 'policy.yaml');
    writeFileSync(policyFile, policyWith('first'));
    writeFileSync(path.join(dir, 'phigate.yaml'), 'policy:\n  file: policy.yaml\n  watch: true\n');
    database = await createEmptyDatabase();
    phigate = await startPhigate({
      configPath: path.join(dir, 'phigate.yaml'),
      port: 0,
      dev: true,
      logLevel: 'silent',
      env: { PHIGATE_DATABASE_URL: database.url, PHIGATE_DATA_DIR: path.join(dir, 'state') },
    });
    token = await phigate.mintDevToken!('alice');
  });
  after(async () => {
    await phigate.stop();
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the policy in force when the new one is invalid, and says why with the line', async () => {
    assert.deepEqual(await roleNames(), ['first']);
    writeFileSync(policyFile, policyWith('second').replace('approval: lead', 'approval: nobody'));
    const result = phigate.reloadPolicy();
    assert.equal(result.ok, false);
    assert.match(
      result.problems.join('\n'),
      /policy\.yaml:\d+: roles\.second\.approval: unknown approval rule nobody/,
    );
    assert.deepEqual(await roleNames(), ['first']);
  });

  it('puts a valid new policy in force on reload, and when the file changes', async () => {
    writeFileSync(policyFile, policyWith('second'));
    assert.equal(phigate.reloadPolicy().ok, true);
    assert.deepEqual(await roleNames(), ['second']);

    writeFileSync(policyFile, policyWith('third'));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && (await roleNames())[0] !== 'third')
      await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(await roleNames(), ['third'], 'the watcher reloads a changed file');
  });
});
