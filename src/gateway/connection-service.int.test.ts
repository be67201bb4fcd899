/**
 * Asking for connection details without an active grant of one's own is refused (409 `grant.not-active`) — and
 * recorded, so that an auditor sees someone trying another person's grant. The answer is the same whether the grant
 * is another person's or does not exist; the record says which. Real server, gateway, tokens and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { RESOURCE, startGatewayFixture, type GatewayFixture } from '../../test/support/gateway.js';

interface Refused {
  action: string;
  reasonCode: string;
  who: { actor: string };
  what: { resource: string; requestId?: string };
  how: { clientAddress?: string };
  detail: { grantOf?: string; status?: string };
}

describe('refused connection details are audited', () => {
  let f: GatewayFixture;
  before(async () => {
    f = await startGatewayFixture();
  });
  after(async () => {
    await f?.stop();
  });

  const refusedBy = async (user: string): Promise<Refused[]> => {
    const actor = String((await f.api(user, 'GET', '/v1/whoami')).body['id']);
    const rows = await f.phigate.store.db
      .selectFrom('audit_events')
      .select('canonical')
      .where('outcome', '=', 'refused')
      .where('actor_id', '=', actor)
      .orderBy('seq')
      .execute();
    return rows.map((r) => JSON.parse(r.canonical) as Refused).filter((e) => e.action.startsWith('session.'));
  };

  it('records a 409 for another person’s grant, an unknown one, none at all, and one’s own ended grant', async () => {
    const grantId = await f.grant('dan');
    const stranger = randomUUID();
    const theirs = await f.connection('alice', { grantId });
    const unknown = await f.connection('alice', { grantId: stranger });
    const none = await f.connection('alice', { direct: true });
    for (const answer of [theirs, unknown, none]) {
      assert.equal(answer.status, 409);
      assert.equal(answer.body.code, 'grant.not-active');
    }
    assert.equal(
      theirs.body.detail!.replace(grantId, 'ID'),
      unknown.body.detail!.replace(stranger, 'ID'),
      'the answer does not tell another person’s grant from no grant',
    );

    const alice = await refusedBy('alice');
    assert.deepEqual(
      alice.map((e) => [e.action, e.reasonCode, e.what.requestId, e.detail.grantOf]),
      [
        ['session.token', 'grant.not-active', grantId, 'another-person'],
        ['session.token', 'grant.not-active', stranger, 'nobody'],
        ['session.direct-credentials', 'grant.not-active', undefined, undefined],
      ],
    );
    assert.ok(alice.every((e) => e.what.resource === RESOURCE && e.how.clientAddress !== undefined));

    await f.revoke('dan', grantId);
    const ended = await f.connection('dan', { grantId });
    assert.equal(ended.status, 409);
    const dan = await refusedBy('dan');
    assert.equal(dan.length, 1);
    assert.equal(dan[0]!.detail.grantOf, 'caller');
    assert.equal(dan[0]!.detail.status, 'revoked');
  });
});
