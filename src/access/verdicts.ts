/**
 * Approving and denying a request. A verdict counts once per person (not per account), never the requester's, and
 * only from someone eligible under both the policy the request was decided under and the policy in force. The
 * approval that meets the requirement activates the grant — after its care relation and its chain's cumulative cap
 * are checked again, since the grant's clock starts only now.
 */
import type { Transaction } from 'kysely';
import type { Principal } from '../identity/principal.js';
import { PhigateError } from '../lib/errors.js';
import { samePerson } from '../policy/person-ref.js';
import { lockChain } from '../store/access-request-repository.js';
import { findApproval, insertApproval, listApprovals } from '../store/approval-repository.js';
import type { Database } from '../store/schema.js';
import type { ApproverRef } from './access-audit.js';
import {
  approvalsSatisfied,
  checkApprover,
  countableApprovals,
  requirementsFor,
  type PolicyPair,
} from './approver-checks.js';
import { createCareRelationChecks } from './care-relation-checks.js';
import type { AccessRequest, Approval } from './grant.js';
import type { MutationSpec } from './mutation-runner.js';
import { linkedBy, personRecord, type KnownPerson, type Person } from './people.js';
import { snapshotOf, type AccessCore } from './request-guards.js';
import { currentScopeHash } from './request-view.js';
import { person as personActor } from './status-change.js';
import type { AccessService } from './types.js';

/** What a verdict is given as: the policies it is checked under, the approver and the requester as people. */
interface VerdictRight {
  readonly pair: PolicyPair;
  readonly person: Person;
  readonly requester: KnownPerson;
}

export function createVerdicts(core: AccessCore): Pick<AccessService, 'approve' | 'deny'> {
  const { deps, people, lifecycle, runner, guards } = core;
  const { refuse } = runner;
  const { replicaId } = deps;
  const careChecks = createCareRelationChecks({ careRelations: deps.careRelations, logger: deps.logger });

  /**
   * May this person give a verdict (approve or deny) on this request now? Eligible under both policy versions, not
   * the requester under any account, and not already on record for it under any account: one person's verdict
   * counts once.
   */
  const requireVerdictRight = async (
    tx: Transaction<Database>,
    p: Principal,
    spec: MutationSpec,
    row: AccessRequest,
    now: Date,
  ): Promise<VerdictRight> => {
    const pair = await guards.pairFor(row);
    const person = people.of(p);
    const requester = people.requesterOf(row);
    const check = checkApprover(person, requester, row, pair, now);
    if (!check.ok) {
      const own =
        check.reason.code === 'approval.self'
          ? guards.ownRequestRefusal(p, spec, row, 'approval.self')
          : undefined;
      if (own !== undefined) throw own;
      const kind = check.reason.code === 'approval.policy-refuses' ? 'conflict' : 'forbidden';
      throw refuse(
        p,
        spec,
        new PhigateError(kind, check.reason.code, check.reason.message, check.reason.details),
        row,
      );
    }
    if ((await findApproval(tx, row.id, p.id)) !== undefined) {
      const duplicate = new PhigateError(
        'conflict',
        'approval.duplicate',
        'you have already given your verdict on this request',
      );
      throw refuse(p, spec, duplicate, row);
    }
    const earlier = (await listApprovals(tx, [row.id])).find((a) => samePerson(person, people.approverOf(a)));
    if (earlier !== undefined) {
      const other = people.approverOf(earlier);
      const samePersonError = new PhigateError(
        'forbidden',
        'approval.same-person',
        'you have already given your verdict on this request under another account',
        { linkedBy: linkedBy(person, other) },
      );
      throw refuse(p, spec, samePersonError, row, {
        person: personRecord(person, requester),
        linkedTo: other.id,
      });
    }
    return { pair, person, requester };
  };

  /** Refuses an approval whose request was edited after it was made: no approval can vouch for another scope. */
  const requireSameScope = (p: Principal, spec: MutationSpec, row: AccessRequest): string => {
    const hashNow = currentScopeHash(row);
    if (hashNow === row.scopeHash) return hashNow;
    throw refuse(
      p,
      spec,
      new PhigateError(
        'conflict',
        'request.scope-changed',
        'the request no longer matches what was asked for',
      ),
      row,
      { scopeHashNow: hashNow },
    );
  };

  /** The clock starts now: the grant must still fit the cumulative cap of its chain (under both policies). */
  const requireChainFits = async (
    tx: Transaction<Database>,
    p: Principal,
    spec: MutationSpec,
    row: AccessRequest,
    pair: PolicyPair,
    now: Date,
  ): Promise<void> => {
    await lockChain(tx, row.requesterId, row.role, row.resource);
    const caps = [pair.decided, pair.current]
      .map((pol) => pol.roles.get(row.role)?.cumulativeMaxMs)
      .filter((x): x is number => x !== undefined);
    const cap = Math.min(...caps);
    const chained = await guards.chainOf(
      tx,
      { requesterId: row.requesterId, role: row.role, resource: row.resource, excludeId: row.id },
      cap,
      now,
    );
    if (chained + row.durationMs <= cap) return;
    throw refuse(
      p,
      spec,
      new PhigateError(
        'conflict',
        'duration.chain-over-max',
        'activating now would make back-to-back grants of this role exceed their cumulative maximum',
        { limitMs: cap, chainedMs: chained, durationMs: row.durationMs },
      ),
      row,
    );
  };

  /** The approvers who started a grant, with their names as they were when they approved (a report reads names). */
  const approversOf = (
    p: Principal,
    given: readonly { approverId: string }[],
    prior: readonly Approval[],
  ): ApproverRef[] =>
    given.map((g) => ({
      id: g.approverId,
      name:
        g.approverId === p.id
          ? p.displayName
          : prior.find((a) => a.approverId === g.approverId)?.approver.displayName,
    }));

  const verdictOf = (
    p: Principal,
    row: AccessRequest,
    right: VerdictRight,
    verdict: Approval['verdict'],
    scopeHash: string,
    comment: string | undefined,
    now: Date,
  ): Approval => ({
    requestId: row.id,
    approverId: p.id,
    approver: snapshotOf(p),
    approverPersonKeys: right.person.personKeys,
    verdict,
    scopeHash,
    policyHash: right.pair.current.hash,
    comment,
    createdAt: now,
  });

  /** What both verdicts begin with: the comment checked, the request locked, the event and the verdict allowed. */
  const lockForVerdict = async (
    tx: Transaction<Database>,
    p: Principal,
    spec: MutationSpec,
    event: 'approve' | 'deny',
    comment: string | undefined,
    now: Date,
  ): Promise<{ text: string | undefined; row: AccessRequest; right: VerdictRight }> => {
    const text = guards.validComment(p, spec, comment, 'comment');
    const row = await guards.lockVisible(tx, p, spec, spec.target ?? '', now, 'approval.self');
    guards.requireTransition(p, spec, row, event, now);
    return { text, row, right: await requireVerdictRight(tx, p, spec, row, now) };
  };

  return {
    approve(p, id, comment, options) {
      const spec: MutationSpec = { action: 'request.approve', target: id, body: { comment }, options };
      return runner.mutate(p, spec, async (tx, now) => {
        const { text, row, right } = await lockForVerdict(tx, p, spec, 'approve', comment, now);
        const { pair, person, requester } = right;
        const hashNow = requireSameScope(p, spec, row);
        const req = requirementsFor(row, requester, pair, now);
        if (!req.ok) throw new Error('requirements vanished between checks');
        const prior = await listApprovals(tx, [row.id]);
        const given = [
          ...countableApprovals(row, prior, people),
          { approverId: p.id, approverGroups: p.groups, personKeys: person.personKeys },
        ];
        const satisfied = approvalsSatisfied(requester, given, pair, req);
        const careRefusal = satisfied ? await careChecks.recheck(row, pair, now) : undefined;
        if (careRefusal !== undefined) throw refuse(p, spec, careRefusal, row);
        if (satisfied) await requireChainFits(tx, p, spec, row, pair, now);

        await insertApproval(tx, verdictOf(p, row, right, 'approve', hashNow, text, now));
        const change = guards.applied(
          row,
          await lifecycle.change(tx, row, satisfied ? 'activate' : 'approve', {
            now,
            by: personActor(p.id),
            activation: {
              approvers: approversOf(p, given, prior),
              detail: { triggeredBy: p.id, replicaId },
            },
          }),
        );
        return guards.changed(p, options, 'request.approve', change, {
          approvalsCounted: given.length,
          satisfied,
          currentPolicyHash: pair.current.hash,
          person: personRecord(person, requester),
        });
      });
    },

    deny(p, id, comment, options) {
      const spec: MutationSpec = { action: 'request.deny', target: id, body: { comment }, options };
      return runner.mutate(p, spec, async (tx, now) => {
        const { text, row, right } = await lockForVerdict(tx, p, spec, 'deny', comment, now);
        await insertApproval(tx, verdictOf(p, row, right, 'deny', currentScopeHash(row), text, now));
        const change = guards.applied(
          row,
          await lifecycle.change(tx, row, 'deny', { now, by: personActor(p.id) }),
        );
        return guards.changed(p, options, 'request.deny', change, {
          comment: text,
          person: personRecord(right.person, right.requester),
        });
      });
    },
  };
}
