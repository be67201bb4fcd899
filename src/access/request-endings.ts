/**
 * Ending a request or grant by a person's hand: the requester cancels their pending request; the grantee, an
 * approver of the request or an administrator revokes a grant. Both go through the lifecycle under the row lock.
 */
import { PhigateError } from '../lib/errors.js';
import { checkApprover } from './approver-checks.js';
import type { MutationSpec } from './mutation-runner.js';
import type { AccessCore } from './request-guards.js';
import { person } from './status-change.js';
import type { AccessService } from './types.js';

export function createRequestEndings(core: AccessCore): Pick<AccessService, 'cancel' | 'revoke'> {
  const { deps, people, lifecycle, runner, guards } = core;
  const { refuse } = runner;

  return {
    cancel(p, id, options) {
      const spec: MutationSpec = { action: 'request.cancel', target: id, body: {}, options };
      return runner.mutate(p, spec, async (tx, now) => {
        const row = await guards.lockVisible(tx, p, spec, id, now);
        if (row.requesterId !== p.id) {
          throw refuse(
            p,
            spec,
            new PhigateError('forbidden', 'request.not-requester', 'only the requester can cancel a request'),
            row,
          );
        }
        guards.requireTransition(p, spec, row, 'cancel', now);
        const change = guards.applied(
          row,
          await lifecycle.change(tx, row, 'cancel', { now, by: person(p.id) }),
        );
        return guards.changed(p, options, 'request.cancel', change);
      });
    },

    revoke(p, id, reason, options) {
      const spec: MutationSpec = { action: 'grant.revoke', target: id, body: { reason }, options };
      return runner.mutate(p, spec, async (tx, now) => {
        const text = guards.validComment(p, spec, reason, 'reason');
        const row = await guards.lockVisible(tx, p, spec, id, now);
        const authority =
          row.requesterId === p.id
            ? 'grantee'
            : deps.policies.current().isAdmin(p)
              ? 'admin'
              : checkApprover(people.of(p), people.requesterOf(row), row, await guards.pairFor(row), now, {
                    ignoreSignIn: true,
                  }).ok
                ? 'approver'
                : undefined;
        if (authority === undefined) {
          throw refuse(
            p,
            spec,
            new PhigateError(
              'forbidden',
              'grant.revoke-forbidden',
              'only the grantee, an approver of the request or an administrator can revoke a grant',
            ),
            row,
          );
        }
        guards.requireTransition(p, spec, row, 'revoke', now);
        const change = guards.applied(
          row,
          await lifecycle.change(tx, row, 'revoke', { now, by: person(p.id), reason: text }),
        );
        return guards.changed(p, options, 'grant.revoke', change, { authority, reason: text });
      });
    },
  };
}
