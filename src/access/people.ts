/**
 * The people behind the accounts the access module deals with: a signed-in principal, the requester a request
 * recorded, the approver an approval recorded. Each is an id with person keys — identity's keys (a verified e-mail,
 * a configured person claim) as keyed tokens `<kind>:pk_…`, so that the store and the audit log can link accounts of
 * one human without holding the e-mail address. Separation of duties compares these (policy/person-ref.ts).
 */
import type { Pseudonymizer } from '../audit/pseudonymizer.js';
import { personKeyKind, personKeysOf, type PersonClaims } from '../identity/person.js';
import type { Principal } from '../identity/principal.js';
import { sharedPersonKeys } from '../policy/person-ref.js';
import type { PersonRef, PrincipalFacts } from '../policy/types.js';
import type { AccessRequest, Approval, PersonSnapshot } from './grant.js';

/** A person as separation of duties sees them: keys always present (possibly none), never forgotten. */
export interface Person extends PrincipalFacts {
  readonly personKeys: readonly string[];
}

export interface KnownPerson extends PersonRef {
  readonly personKeys: readonly string[];
}

export interface People {
  /** The signed-in principal, with the person keys of its token. */
  of(p: Principal): Person;
  /** The requester as the request recorded them. */
  requesterOf(request: AccessRequest): KnownPerson;
  /** The approver as the approval recorded them. */
  approverOf(approval: Approval): KnownPerson;
  /** Tokens of the person keys of claims as they are now (what a new request or approval records). */
  keysOf(claims: PersonClaims): readonly string[];
}

export function createPeople(pseudonymizer: Pick<Pseudonymizer, 'person'>): People {
  const keysOf = (claims: PersonClaims): readonly string[] =>
    Object.freeze(personKeysOf(claims).map((k) => `${k.kind}:${pseudonymizer.person(k.kind, k.value)}`));
  // Rows written before phigate kept person keys (NULL) still have the snapshot's e-mail and whether it was
  // verified: derive the e-mail key from it rather than treat the person as unknown.
  const recorded = (keys: readonly string[] | undefined, snapshot: PersonSnapshot): readonly string[] => {
    if (keys !== undefined) return Object.freeze([...keys]);
    return keysOf({ email: snapshot.email ?? undefined, emailVerified: snapshot.emailVerified === true });
  };
  return {
    of: (p) => Object.freeze({ id: p.id, groups: p.groups, mfa: p.mfa, personKeys: keysOf(p) }),
    requesterOf: (request) => ({
      id: request.requesterId,
      personKeys: recorded(request.requesterPersonKeys, request.requester),
    }),
    approverOf: (approval) => ({
      id: approval.approverId,
      personKeys: recorded(approval.approverPersonKeys, approval.approver),
    }),
    keysOf,
  };
}

/** Which kinds of person key link `a` to `b` (`email`, `claim:employee_number`), for audit records and answers. */
export function linkedBy(a: PersonRef, b: PersonRef): readonly string[] {
  return [...new Set(sharedPersonKeys(a, b).map(personKeyKind))].sort();
}

/**
 * What an audit record keeps of a separation-of-duties decision: the tokens of both sides' keys (never an address),
 * so that an auditor can see what phigate knew and check that they share none — and which kinds linked them when
 * they did.
 */
export function personRecord(actor: KnownPerson, requester: KnownPerson): Record<string, unknown> {
  const linked = linkedBy(actor, requester);
  return {
    keys: actor.personKeys,
    requesterKeys: requester.personKeys,
    ...(linked.length > 0 ? { linkedBy: linked } : {}),
  };
}
