/**
 * The sweep of leftover grant roles belongs to the protected databases, not to the gateway: a phigate whose gateway
 * does not listen (another replica's does, or it was turned off) still removes the roles of grants that are not
 * active when it starts.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { tableAccess } from '../../test/support/access.js';
import { gatewayPolicy, RESOURCE } from '../../test/support/gateway.js';
import { startTestPhigate, type TestPhigate } from '../../test/support/phigate.js';
import { createProtectedDatabase, type ProtectedDatabase } from '../../test/support/protected-db.js';
import { createGrantRole } from './provisioner.js';

describe('the role sweep without the gateway', () => {
  let protectedDb: ProtectedDatabase;
  let test: TestPhigate | undefined;
  before(async () => {
    protectedDb = await createProtectedDatabase();
  });
  after(async () => {
    await test?.stop();
    await protectedDb.drop();
  });

  it('removes, at start, the role of a grant that is not active, with the gateway disabled', async () => {
    const u = protectedDb.upstream;
    const admin = new pg.Pool({ connectionString: u.adminUrl, max: 1 });
    let leftover: string;
    try {
      // A role left behind by a grant this phigate has never heard of (so: not active).
      ({ role: leftover } = await createGrantRole(admin, {
        grantId: randomUUID(),
        expiresAt: new Date(Date.now() + 3_600_000),
        database: protectedDb.database,
        patientIds: [],
        access: [tableAccess('public.encounters', ['id', 'patient_id'])],
      }));
    } finally {
      await admin.end();
    }
    const exists = async () =>
      (await protectedDb.query('select 1 from pg_roles where rolname = $1', [leftover])).length > 0;
    assert.equal(await exists(), true);
    test = await startTestPhigate({
      files: { 'policy.yaml': gatewayPolicy() },
      config: `policy: { file: policy.yaml }
gateway:
  enabled: false
  resources:
    ${RESOURCE}:
      host: ${u.host}
      port: ${u.port}
      database: ${u.database}
      adminUrl: '${u.adminUrl}'
`,
    });
    assert.equal(test.phigate.gateway, undefined);
    assert.equal(await exists(), false);
  });
});
