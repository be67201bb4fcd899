import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { grantIdOfComment, planGrantRole, roleNameFor } from './role-plan.js';
import { quoteIdent } from './sql-names.js';

const grantId = '6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f';
const password = 'A'.repeat(32);
const role = '"phigate_g_6f1c2d3e4b5a4c6d8e7f9a0b1c2d3e4f"';

describe('grant role plan', () => {
  it('confines the role to its views: their operations, the views’ schema first in search_path, expiry, no table', () => {
    const plan = planGrantRole({
      grantId,
      expiresAt: new Date('2026-11-22T12:00:00Z'),
      database: 'clinic',
      password,
      views: {
        schema: 'phigate_v_abc',
        views: [
          { sql: '"phigate_v_abc"."encounters"', operations: ['SELECT'] },
          { sql: '"phigate_v_abc"."notes"', operations: ['UPDATE', 'DELETE'] },
        ],
      },
    });
    assert.equal(plan.role, 'phigate_g_6f1c2d3e4b5a4c6d8e7f9a0b1c2d3e4f');
    assert.deepEqual(plan.statements.slice(2), [
      `alter role ${role} set search_path to "phigate_v_abc"`,
      `grant connect on database "clinic" to ${role}`,
      `grant usage on schema "phigate_v_abc" to ${role}`,
      `grant select on "phigate_v_abc"."encounters" to ${role}`,
      `grant update, delete on "phigate_v_abc"."notes" to ${role}`,
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
      () =>
        planGrantRole({
          grantId,
          expiresAt: new Date(),
          database: 'd',
          password: "short'",
          views: { schema: 's', views: [] },
        }),
      /random url-safe/,
    );
    assert.equal(grantIdOfComment('something else'), undefined);
    assert.equal(grantIdOfComment(null), undefined);
  });
});
