/**
 * Who may open a gateway session, and on which grant. The password is a phigate connection token (minted by
 * `phigate connect` for one grant) or an OIDC access token; the user name must name the same person. The database
 * name is a policy resource, and the person must hold an active grant on it right now — looked up in the store at
 * every connection, so a revoked grant opens nothing whatever token is presented.
 *
 * Eligibility is checked again here: a person whose groups (as their OIDC token states them now) no longer include
 * one of the role's eligible groups is refused, and the grant ends (`eligibility-lost`) — a grant outlives nothing
 * it was granted for. A connection token carries no groups: they were checked when it was minted, minutes ago.
 */
import type { Grant } from '../access/grant.js';
import type { GrantDirectory } from '../access/grant-directory.js';
import type { SystemRevocation } from '../access/system-revocation.js';
import { splitPrincipalId } from '../identity/principal.js';
import type { TokenVerifier } from '../identity/token-verifier.js';
import type { Clock } from '../lib/clock.js';
import { isEligible } from '../policy/eligibility.js';
import type { CompiledPolicy } from '../policy/types.js';
import { CONNECTION_TOKEN_PREFIX, type ConnectionTokens } from './connection-token.js';
import type { Refusal } from './postgres/connect-phase.js';
import { GATEWAY_REFUSAL } from './refusal-reasons.js';

export interface GatewayPrincipal {
  readonly id: string;
  /** The connection token's grant, when the password was one. */
  readonly grantId: string | undefined;
  readonly tokenId: string | undefined;
  /** The groups an OIDC token states; undefined for a connection token (checked when it was minted). */
  readonly groups: readonly string[] | undefined;
}

export interface GatewayAuth {
  authenticate(user: string, password: string): Promise<GatewayPrincipal>;
  authorize(
    principal: GatewayPrincipal,
    database: string,
  ): Promise<{ readonly ok: true; readonly grant: Grant } | Refusal>;
}

export class GatewayAuthError extends Error {
  override readonly name = 'GatewayAuthError';
}

/** The names a person may connect as: the subject, the full `issuer#subject`, or (OIDC) their e-mail. */
function userMatches(user: string, principalId: string, email?: string): boolean {
  const subject = splitPrincipalId(principalId)?.subject;
  return user === subject || user === principalId || (email !== undefined && user === email);
}

export function createGatewayAuth(deps: {
  readonly grants: Pick<GrantDirectory, 'activeGrant'>;
  readonly tokens: ConnectionTokens;
  readonly verifier: TokenVerifier;
  readonly policy: () => CompiledPolicy;
  readonly clock: Clock;
  readonly revocation: Pick<SystemRevocation, 'revoke'>;
}): GatewayAuth {
  return {
    async authenticate(user, password) {
      if (password.startsWith(CONNECTION_TOKEN_PREFIX)) {
        const claims = deps.tokens.verify(password, deps.clock.now());
        if (claims === undefined || !userMatches(user, claims.principalId))
          throw new GatewayAuthError('bad connection token');
        return {
          id: claims.principalId,
          grantId: claims.grantId,
          tokenId: claims.tokenId,
          groups: undefined,
        };
      }
      const p = await deps.verifier.verify(password);
      if (!userMatches(user, p.id, p.email)) throw new GatewayAuthError('token of another user');
      return { id: p.id, grantId: undefined, tokenId: p.tokenId, groups: p.groups };
    },

    async authorize(principal, database) {
      const resource = deps.policy().resources.get(database);
      if (resource === undefined) {
        return {
          ok: false,
          code: GATEWAY_REFUSAL.unknownResource,
          message: `phigate has no resource named "${printable(database)}": the database name is the resource`,
          hint: 'list what you may ask for with `phigate roles`',
        };
      }
      const grant = await deps.grants.activeGrant(principal.id, resource.name, principal.grantId);
      if (grant === undefined) {
        return {
          ok: false,
          code: GATEWAY_REFUSAL.noActiveGrant,
          message:
            principal.grantId !== undefined
              ? `grant ${principal.grantId} for ${resource.name} is not active (it ended or was revoked)`
              : `you hold no active grant for ${resource.name}`,
          hint:
            `ask for access: phigate request --resource ${resource.name} --role ROLE --purpose CODE ` +
            `--justification "why" (phigate roles lists the roles), then phigate connect ${resource.name}`,
        };
      }
      const role = deps.policy().roles.get(grant.role);
      if (role !== undefined && principal.groups !== undefined && !isEligible(role, principal.groups)) {
        await deps.revocation.revoke(grant.id, 'eligibility-lost', {
          authority: 'gateway',
          eligibleGroups: role.eligibleGroups,
        });
        return {
          ok: false,
          code: 'grant.eligibility-lost',
          message:
            `you are no longer in a group eligible for ${grant.role} (${role.eligibleGroups.join(', ')}): ` +
            `grant ${grant.id} has ended`,
        };
      }
      return { ok: true, grant };
    },
  };
}

function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 64);
}
