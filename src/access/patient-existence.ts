/**
 * The patients a request names must exist: a request naming 500 made-up ids would otherwise wait for approvers, and
 * an approver would see a list of identifiers with nothing to tell them apart from real patients. Looked up through
 * `PatientDirectory` (the protected database) once the policy has accepted the request. The refusal says how many
 * ids are unknown, never which: the audit record keeps them, as keyed tokens, like every id a request names.
 *
 * When the resource's database should be asked and cannot be, the request is refused as "try again later" (fail
 * closed): a grant on a database phigate cannot reach would be of no use anyway. When there is nothing to ask — the
 * resource declares no patient table, phigate has no provisioning account for it — the request goes on unchecked,
 * and says so (`patientsFound` stays undefined).
 */
import { PhigateError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import type { CompiledPolicy, RequestFacts } from '../policy/types.js';
import type { PatientDirectory } from './types.js';

export function createPatientExistenceCheck(deps: {
  readonly directory: PatientDirectory | undefined;
  readonly logger: Pick<Logger, 'warn'>;
}) {
  return {
    /**
     * How many of the request's patients exist (all of them: otherwise a PhigateError, `patients.unknown`), or
     * undefined when not looked up.
     */
    async check(policy: CompiledPolicy, facts: RequestFacts): Promise<number | undefined> {
      const named = facts.patientIds.length;
      if (named === 0 || deps.directory === undefined) return undefined;
      const role = policy.roles.get(facts.role);
      const resource = policy.resources.get(facts.resource);
      if (role === undefined || resource === undefined || role.resource !== resource.name) return undefined;
      let found: number | undefined;
      try {
        found = await deps.directory.countExisting(resource, role, facts.patientIds);
      } catch (err) {
        // The look-up compares ids without quoting them back in errors (provisioner/known-patients.ts).
        deps.logger.warn(
          { err, resource: resource.name },
          'could not look up whether the named patients exist',
        );
        throw new PhigateError(
          'unavailable',
          'patients.existence-unknown',
          `${resource.name} could not be asked whether the named patients exist: try again later`,
        );
      }
      if (found === undefined) return undefined;
      const unknown = named - found;
      if (unknown > 0) {
        throw new PhigateError(
          'invalid',
          'patients.unknown',
          `${unknown} of the ${named} patient ids named ${unknown === 1 ? 'is' : 'are'} not in ${resource.name}`,
          { unknown, named },
        );
      }
      return found;
    },
  };
}
