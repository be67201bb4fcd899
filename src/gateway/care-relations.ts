/**
 * Care relations looked up through the provisioning account of each protected database (the same upstreams the
 * gateway uses), for requests to roles whose patients are the requester's own.
 */
import type { CareRelations } from '../access/types.js';
import { PhigateError } from '../lib/errors.js';
import { relatedPatients } from '../provisioner/care-relation.js';
import type { Upstreams } from './upstreams.js';

export function createCareRelations(upstreams: Upstreams): CareRelations {
  return {
    async patientsOf(resource, role, person, at, limit) {
      const relation = role.careRelation;
      if (relation === undefined) throw new RangeError(`role ${role.name} has no care relation`);
      const identifier =
        relation.requesterIdentifier === 'subject'
          ? person.subject
          : relation.requesterIdentifier === 'email'
            ? person.email
            : person.id;
      if (identifier === undefined)
        throw new PhigateError(
          'invalid',
          'patients.care-relation-unknown',
          `your sign-in carries no ${relation.requesterIdentifier}, which ${relation.table} names people by`,
        );
      return relatedPatients(upstreams.get(resource).admin(), relation, identifier, at, limit);
    },
  };
}
