/**
 * Policy reload in a running server: SIGHUP's path (`reloadPolicy`) and the file watcher both put a valid new policy
 * in force, and an invalid one is reported while the previous policy stays in force.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestPhigate, type TestPhigate } from '../../test/support/phigate.js';
import type { RunningPhigate } from './start.js';

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
  let server: TestPhigate;
  let phigate: RunningPhigate;
  let policyFile: string;
  let token: string;

  const roleNames = async (): Promise<string[]> => {
    const res = await fetch(`${phigate.url}/v1/roles`, { headers: { authorization: `Bearer ${token}` } });
    return ((await res.json()) as { items: { name: string }[] }).items.map((r) => r.name);
  };

  before(async () => {
    server = await startTestPhigate({
      files: { 'policy.yaml': policyWith('first') },
      config: 'policy:\n  file: policy.yaml\n  watch: true\n',
    });
    phigate = server.phigate;
    policyFile = path.join(server.dir, 'policy.yaml');
    token = await phigate.mintDevToken!('alice');
  });
  after(() => server.stop());

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
