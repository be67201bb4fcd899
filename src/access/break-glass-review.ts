/**
 * Closing the review a break-glass access opened: an auditor or administrator who is not the person who broke the
 * glass (under any of their accounts) says whether it was appropriate. Not a status change: the grant is untouched.
 */
import { PhigateError } from '../lib/errors.js';
import { closeReviewItem } from '../store/review-item-repository.js';
import type { MutationSpec } from './mutation-runner.js';
import { personRecord } from './people.js';
import type { AccessCore } from './request-guards.js';
import { REVIEW_OUTCOMES, type AccessService } from './types.js';

export function createBreakGlassReview(core: AccessCore): Pick<AccessService, 'reviewBreakGlass'> {
  const { people, runner, guards } = core;
  const { refuse } = runner;

  return {
    reviewBreakGlass(p, id, input, options) {
      const spec: MutationSpec = { action: 'review.close', target: id, body: input, options };
      return runner.mutate(p, spec, async (tx, now) => {
        const outcome = (input as { outcome?: unknown } | undefined)?.outcome;
        if (!REVIEW_OUTCOMES.includes(outcome as never)) {
          throw refuse(
            p,
            spec,
            new PhigateError(
              'invalid',
              'review.outcome-invalid',
              `the outcome of a review is one of ${REVIEW_OUTCOMES.join(', ')}`,
              { allowed: REVIEW_OUTCOMES },
            ),
            undefined,
          );
        }
        const notes = guards.validComment(p, spec, input.notes, 'notes');
        const row = await guards.lockVisible(tx, p, spec, id, now, 'review.self');
        // Whoever broke the glass never signs off on it, under any account of theirs — auditor or not.
        const own = guards.ownRequestRefusal(p, spec, row, 'review.self');
        if (own !== undefined) throw own;
        const person = people.of(p);
        const requester = people.requesterOf(row);
        if (!guards.isOverseer(p)) {
          throw refuse(
            p,
            spec,
            new PhigateError(
              'forbidden',
              'review.forbidden',
              'only auditors and administrators review break-glass access',
            ),
            row,
          );
        }
        const closed = await closeReviewItem(tx, {
          requestId: row.id,
          kind: 'break-glass',
          closedAt: now,
          closedBy: p.id,
          outcome: input.outcome,
          notes: notes ?? null,
        });
        if (closed === undefined) {
          throw refuse(
            p,
            spec,
            new PhigateError(
              'conflict',
              'review.not-open',
              'this request has no open break-glass review (it was not break-glass, or it was reviewed)',
            ),
            row,
          );
        }
        return guards.changed(
          p,
          options,
          'review.close',
          { request: row, publish: [] },
          { reviewItemId: closed.id, outcome: input.outcome, notes, person: personRecord(person, requester) },
        );
      });
    },
  };
}
