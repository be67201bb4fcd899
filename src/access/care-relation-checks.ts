/**
 * The care relation's part in a request's life: the patients it gives when the request is made, and whether they are
 * still the requester's at the approval that activates it. Looked up through `CareRelations` (the protected
 * database); a look-up that fails never reads as "no patients" or "all patients": the request is refused.
 */
import { splitPrincipalId, type Principal } from '../identity/principal.js';
import { isPhigateError, PhigateError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import type { CompiledPolicy, RoleDefinition } from '../policy/types.js';
import type { PolicyPair } from './approver-checks.js';
import type { AccessRequest } from './grant.js';
import type { CarePerson, CareRelations } from './types.js';

export function createCareRelationChecks(deps: {
  readonly careRelations: CareRelations | undefined;
  readonly logger: Pick<Logger, 'warn'>;
}) {
  const unknown = (message: string): PhigateError =>
    new PhigateError('unavailable', 'patients.care-relation-unknown', message);

  return {
    /**
     * The patients the role's care relation relates the requester to now (among `named`, when the request names
     * some); undefined when the role has none, or when they could not be looked up (the policy then refuses). A
     * PhigateError when the requester's identity does not fit the relation.
     */
    async lookUp(
      p: Principal,
      policy: CompiledPolicy,
      role: RoleDefinition | undefined,
      resourceName: string,
      named: readonly string[],
      now: Date,
    ): Promise<readonly string[] | undefined> {
      if (role?.careRelation === undefined || role.resource !== resourceName) return undefined;
      // Only for someone who may hold the role: the look-up costs the protected database a query.
      if (!role.eligibleGroups.some((g) => p.groups.includes(g))) return undefined;
      const resource = policy.resources.get(role.resource);
      if (resource === undefined || deps.careRelations === undefined) return undefined;
      try {
        // One more than allowed, so that too many reads as too many rather than as a truncated set.
        return await deps.careRelations.patientsOf(
          resource,
          role,
          p,
          now,
          policy.maxPatientIds + 1,
          named.length > 0 ? named : undefined,
        );
      } catch (err) {
        if (isPhigateError(err)) throw err;
        deps.logger.warn({ err, role: role.name }, 'could not look up a care relation');
        return undefined;
      }
    },

    /**
     * At the approval that would activate `row`: its patients must still be the requester's by the care relation
     * (of whichever of the two policies' roles has one), or a patient who left the care team since the request would
     * be granted by a late approval. The refusal, or undefined when the relation still holds or the role has none.
     */
    async recheck(row: AccessRequest, pair: PolicyPair, now: Date): Promise<PhigateError | undefined> {
      const role = [pair.current, pair.decided]
        .map((policy) => policy.roles.get(row.role))
        .find((r) => r?.careRelation !== undefined);
      if (role === undefined) return undefined;
      const resource = pair.current.resources.get(role.resource) ?? pair.decided.resources.get(role.resource);
      const snapshot = row.requester;
      const person: CarePerson = {
        id: row.requesterId,
        issuer: '',
        subject: '',
        ...splitPrincipalId(row.requesterId),
        email: snapshot.email,
        emailVerified: snapshot.emailVerified === true,
      };
      const again = 'the requester’s care relations could not be looked up again: try approving later';
      let found: readonly string[];
      try {
        if (resource === undefined || deps.careRelations === undefined) return unknown(again);
        found = await deps.careRelations.patientsOf(
          resource,
          role,
          person,
          now,
          row.patientIds.length,
          row.patientIds,
        );
      } catch (err) {
        if (!isPhigateError(err)) {
          deps.logger.warn({ err, role: role.name }, 'could not look up a care relation');
          return unknown(again);
        }
        // The requester's identity no longer fits the relation: the request, not the approver, is at fault.
        return err.kind === 'forbidden'
          ? new PhigateError('conflict', err.code, err.message, err.details)
          : err;
      }
      const mine = new Set(found);
      const outside = row.patientIds.filter((id) => !mine.has(id)).length;
      if (outside === 0) return undefined;
      return new PhigateError(
        'conflict',
        'patients.outside-care-relation',
        `${outside} of the request's patients ${outside === 1 ? 'is' : 'are'} no longer related to the requester ` +
          `in ${role.careRelation!.table}`,
        { outside },
      );
    },
  };
}
