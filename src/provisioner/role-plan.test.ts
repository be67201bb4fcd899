import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { grantIdOfComment, planGrantRole, quoteIdent, roleNameFor } from './role-plan.js';

const grantId = '6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f';
const password = 'A'.repeat(32);

describe('grant role plan', () => {
  it('confines the role to the policy access: column privileges, table DELETE, schema usage, expiry', () => {
    const plan = planGrantRole({
      grantId,
      expiresAt: new Date('2026-11-22T12:00:00Z'),
      database: 'clinic',
      password,
      access: [
        { table: 'public.encounters', columns: ['id', 'patient_id'], operations: ['SELECT'] },
        { table: 'ops.notes', columns: ['body'], operations: ['UPDATE', 'DELETE'] },
      ],
    });
    assert.equal(plan.role, 'phigate_g_6f1c2d3e4b5a4c6d8e7f9a0b1c2d3e4f');
    assert.deepEqual(plan.statements.slice(2), [
      'grant connect on database "clinic" to "phigate_g_6f1c2d3e4b5a4c6d8e7f9a0b1c2d3e4f"',
      'grant usage on schema "ops" to "phigate_g_6f1c2d3e4b5a4c6d8e7f9a0b1c2d3e4f"',
      'grant usage on schema "public" to "phigate_g_6f1c2d3e4b5a4c6d8e7f9a0b1c2d3e4f"',
      'grant select ("id", "patient_id") on "public"."encounters" to "phigate_g_6f1c2d3e4b5a4c6d8e7f9a0b1c2d3e4f"',
      'grant update ("body") on "ops"."notes" to "phigate_g_6f1c2d3e4b5a4c6d8e7f9a0b1c2d3e4f"',
      'grant delete on "ops"."notes" to "phigate_g_6f1c2d3e4b5a4c6d8e7f9a0b1c2d3e4f"',
    ]);
    assert.match(
      plan.statements[0]!,
      /login noinherit nosuperuser .* valid until '2026-11-22T12:00:00.000Z'$/,
    );
    assert.equal(grantIdOfComment(/is '(.*)'$/.exec(plan.statements[1]!)![1]!), grantId);
  });

  it('quotes every identifier, and refuses what it cannot quote or a weak password', () => {
    assert.equal(quoteIdent('we"ird; drop role x'), '"we""ird; drop role x"');
    assert.throws(() => quoteIdent(''), /identifier/);
    assert.throws(() => roleNameFor("x'; drop"), /not a grant id/);
    assert.throws(
      () => planGrantRole({ grantId, expiresAt: new Date(), database: 'd', password: "short'", access: [] }),
      /random url-safe/,
    );
    assert.equal(grantIdOfComment('something else'), undefined);
    assert.equal(grantIdOfComment(null), undefined);
  });
});
