import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { createPolicyRegistry } from './policy-registry.js';
import { silentLogger } from '../../test/support/helpers.js';

const policy = (approverGroup: string): string => `
version: 1
resources: { db: { kind: postgres } }
approvalRules:
  lead: { approvers: { groups: [${approverGroup}], count: 1 } }
roles:
  review:
    resource: db
    eligibleGroups: [analysts]
    duration: { default: 30m, max: 4h }
    purposes: [HOPERAT]
    approval: lead
`;

describe('policy registry on real PostgreSQL', () => {
  let db: TestDatabase;
  let dir: string;
  before(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(path.join(tmpdir(), 'phigate-policy-'));
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
  });

  const stored = async (): Promise<string[]> =>
    (await db.db.selectFrom('policy_versions').select('hash').execute()).map((r) => r.hash).sort();

  it('has no policy before the first load, and says so with a stable code', () => {
    const registry = createPolicyRegistry({ db: db.db, logger: silentLogger });
    assert.throws(() => registry.current(), { code: 'policy.not-loaded', kind: 'unavailable' });
  });

  it('puts a valid policy in force and stores its source by hash', async () => {
    const registry = createPolicyRegistry({ db: db.db, logger: silentLogger });
    const loaded = await registry.load(policy('leads'), 'v1.yaml');
    assert.ok(loaded.ok);
    assert.equal(registry.current().hash, loaded.hash);
    assert.ok((await stored()).includes(loaded.hash));
    const again = await registry.load(policy('leads'), 'v1.yaml');
    assert.ok(again.ok && !again.changed);
  });

  it('keeps the old policy in force when the new one is invalid, naming the line', async () => {
    const registry = createPolicyRegistry({ db: db.db, logger: silentLogger });
    const v1 = await registry.load(policy('leads'), 'v1.yaml');
    assert.ok(v1.ok);
    const before = await stored();
    const broken = await registry.load(policy('leads').replace('max: 4h', 'max: forever'), 'v2.yaml');
    assert.equal(broken.ok, false);
    assert.ok(!broken.ok && broken.problems.some((p) => p.line !== undefined && p.line > 1));
    assert.equal(registry.current().hash, v1.hash);
    assert.deepEqual(await stored(), before, 'an invalid policy is never stored');

    const missing = await registry.reloadFromFile(path.join(dir, 'nope.yaml'));
    assert.equal(missing.ok, false);
    assert.equal(registry.current().hash, v1.hash);
    assert.equal(registry.reloadFromFileSync(path.join(dir, 'nope.yaml')).ok, false);
  });

  it('reloads from a file, synchronously for signal handlers, and stores that version too', async () => {
    const registry = createPolicyRegistry({ db: db.db, logger: silentLogger });
    assert.ok((await registry.load(policy('leads'), 'v1.yaml')).ok);
    const file = path.join(dir, 'policy.yaml');
    writeFileSync(file, policy('seniors'));
    const r = registry.reloadFromFileSync(file);
    assert.ok(r.ok);
    assert.equal(registry.current().hash, r.hash);
    assert.equal(registry.current().sourceName, file);
    // Whether or not the background store won the race, a decision's transaction makes sure it is there.
    await db.db.transaction().execute((tx) => registry.ensurePersisted(tx, registry.current()));
    assert.ok((await stored()).includes(r.hash));

    writeFileSync(file, policy('chiefs'));
    const async_ = await registry.reloadFromFile(file);
    assert.ok(async_.ok && async_.changed);
    assert.ok((await stored()).includes(async_.hash));
  });

  it('finds old versions after a restart by compiling their stored source, and fails closed on a bad one', async () => {
    const first = createPolicyRegistry({ db: db.db, logger: silentLogger });
    const old = await first.load(policy('old-approvers'), 'old.yaml');
    assert.ok(old.ok);

    const restarted = createPolicyRegistry({ db: db.db, logger: silentLogger });
    assert.ok((await restarted.load(policy('new-approvers'), 'new.yaml')).ok);
    const version = await restarted.version(old.hash);
    assert.equal(version.hash, old.hash);
    assert.deepEqual(version.approvalRules.get('lead')?.groups, ['old-approvers']);
    assert.equal(await restarted.version(old.hash), version, 'compiled once, then cached');

    await assert.rejects(restarted.version('0'.repeat(64)), { code: 'policy.version-missing' });
    // A stored source that no longer hashes to its key cannot vouch for any decision.
    const forged = 'a'.repeat(64);
    await sql`insert into policy_versions (hash, source_name, source) values (${forged}, 'x', ${policy('x')})`.execute(
      db.db,
    );
    await assert.rejects(restarted.version(forged), { code: 'policy.version-unusable' });
  });
});
