/**
 * Care relations looked up through the provisioning account of each protected database (the same upstreams the
 * gateway uses), for requests to roles whose patients are the requester's own. Who the requester is, in the terms of
 * the relation's table, must be beyond doubt: a subject only under its issuer, an e-mail address only if verified.
 */
import type { CarePerson, CareRelations } from '../access/types.js';
import { PhigateError } from '../lib/errors.js';
import type { CareRelation } from '../policy/types.js';
import { relatedPatients } from './care-relation.js';
import type { Upstreams } from './upstreams.js';

/** The requester's identifier as the relation's table holds it; a PhigateError when it cannot be trusted. */
export function requesterIdentifier(
  relation: CareRelation,
  person: CarePerson,
  trustedIssuers: readonly string[],
): string {
  const refuse = (why: string): PhigateError =>
    new PhigateError('forbidden', 'patients.care-relation-identity', `${relation.table}: ${why}`);
  switch (relation.requesterIdentifier) {
    case 'id':
      return person.id;
    case 'email':
      if (person.email === undefined || person.emailVerified !== true)
        throw refuse(
          'your sign-in carries no verified e-mail address (email_verified), which it names people by',
        );
      return person.email;
    case 'subject':
      // A subject is unique only within its issuer: with several, the policy must say whose subjects the table holds.
      if (relation.issuer !== undefined) {
        if (person.issuer !== relation.issuer)
          throw refuse(`it names people signed in with ${relation.issuer}`);
      } else if (trustedIssuers.length !== 1) {
        throw refuse(
          'several issuers are trusted, and the policy does not say whose subjects it holds (careRelation.issuer)',
        );
      }
      return person.subject;
  }
}

export function createCareRelations(
  upstreams: Upstreams,
  /** The issuers phigate trusts (known once identity is configured). */
  trustedIssuers: () => readonly string[],
): CareRelations {
  return {
    async patientsOf(resource, role, person, at, limit, among) {
      const relation = role.careRelation;
      if (relation === undefined) throw new RangeError(`role ${role.name} has no care relation`);
      const identifier = requesterIdentifier(relation, person, trustedIssuers());
      return relatedPatients(upstreams.get(resource).lookups(), relation, identifier, at, limit, among);
    },
  };
}
