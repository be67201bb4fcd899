/**
 * What `phigate connect` asks the API for: how to reach a resource through the gateway with the caller's active
 * grant — a connection token bound to that person and grant, valid until the grant's end at the latest — or, with
 * `direct`, the grant role's own credentials for tools that cannot use the gateway (their sessions end with the
 * grant too: the role is dropped and its backends terminated). Both are recorded before they are handed out, and a
 * refusal is recorded before it is answered.
 */
import type { Grant } from '../access/grant.js';
import type { GrantDirectory } from '../access/grant-directory.js';
import type { SystemRevocation } from '../access/system-revocation.js';
import type { AuditWriter } from '../audit/audit-writer.js';
import type { Principal } from '../identity/principal.js';
import type { Clock } from '../lib/clock.js';
import { PhigateError } from '../lib/errors.js';
import { isEligible } from '../policy/eligibility.js';
import type { CompiledPolicy } from '../policy/types.js';
import { grantRolePassword } from '../provisioner/role-password.js';
import type { ConnectionTokens } from './connection-token.js';
import type { GrantRoles } from '../provisioner/grant-roles.js';
import type { Upstreams } from '../provisioner/upstreams.js';

export interface ConnectionRequest {
  readonly resource: string;
  /** A particular grant; otherwise the caller's active grant on the resource that lasts longest. */
  readonly grantId?: string | undefined;
  readonly direct?: boolean | undefined;
}

export interface Endpoint {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: string;
  readonly sslmode: 'require' | 'disable' | 'verify-full';
  /** A libpq connection URI (password included: treat it as the secret it is). */
  readonly url: string;
}

export interface ConnectionInfo {
  readonly grantId: string;
  readonly resource: string;
  readonly role: string;
  readonly grantExpiresAt: Date;
  /** Through the gateway (always). */
  readonly gateway: Endpoint & { readonly tokenExpiresAt: Date };
  /** The grant role's own login (only when asked for). */
  readonly direct: Endpoint | undefined;
}

export interface ConnectionService {
  connect(p: Principal, request: ConnectionRequest, clientAddress?: string): Promise<ConnectionInfo>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function libpqUrl(e: Omit<Endpoint, 'url'>): string {
  const host = e.host.includes(':') ? `[${e.host}]` : e.host;
  return (
    `postgresql://${encodeURIComponent(e.user)}:${encodeURIComponent(e.password)}@${host}:${e.port}/` +
    `${encodeURIComponent(e.database)}?sslmode=${e.sslmode}`
  );
}

export function createConnectionService(deps: {
  readonly grants: Pick<GrantDirectory, 'activeGrant' | 'grantById'>;
  readonly policy: () => CompiledPolicy;
  readonly tokens: ConnectionTokens;
  readonly upstreams: Upstreams;
  readonly roles: GrantRoles;
  readonly writer: Pick<AuditWriter, 'append'>;
  readonly clock: Clock;
  readonly secret: Buffer;
  readonly gateway: { readonly host: string; readonly port: number; readonly tls: boolean };
  readonly tokenTtlMs: number;
  readonly revocation: Pick<SystemRevocation, 'revoke'>;
}): ConnectionService {
  /**
   * A refused ask is recorded too: asking with another person's grant id is probing, which an auditor must be able
   * to see. The answer is the same whoever's the grant is (never confirm that an id exists); the record says whose.
   */
  const recordRefusal = async (
    p: Principal,
    request: ConnectionRequest,
    reasonCode: string,
    clientAddress: string | undefined,
  ): Promise<void> => {
    const named =
      request.grantId === undefined || !UUID.test(request.grantId)
        ? undefined
        : await deps.grants.grantById(request.grantId);
    const grantOf =
      request.grantId === undefined
        ? undefined
        : named === undefined
          ? 'nobody'
          : named.requesterId === p.id
            ? 'caller'
            : 'another-person';
    await deps.writer.append([
      {
        action: request.direct === true ? 'session.direct-credentials' : 'session.token',
        outcome: 'refused',
        reasonCode,
        who: { actor: p.id, issuer: p.issuer, subject: p.subject, name: p.displayName },
        what: { resource: request.resource.slice(0, 200), requestId: request.grantId?.slice(0, 64) },
        how: { clientAddress, tokenId: p.tokenId, mfa: p.mfa.satisfied },
        detail: {
          ...(grantOf !== undefined ? { grantOf } : {}),
          ...(grantOf === 'caller' ? { status: named!.status, grantResource: named!.resource } : {}),
        },
      },
    ]);
  };

  /** The grant role's own login (the role made if needed), for tools that cannot use the gateway. */
  const directEndpoint = async (grant: Grant): Promise<Endpoint> => {
    const policy = deps.policy();
    const resource = policy.resources.get(grant.resource);
    const role = policy.roles.get(grant.role);
    if (resource === undefined || role === undefined) {
      throw new PhigateError('conflict', 'grant.role-gone', `the policy no longer defines ${grant.role}`);
    }
    const upstream = deps.upstreams.get(resource);
    // A grant is what its role is made for: its id, its end and its patients.
    const credentials = await deps.roles.ensure(upstream, grant, role, resource.phi);
    const endpoint = {
      host: upstream.host,
      port: upstream.port,
      database: upstream.database,
      user: credentials.role,
      password: grantRolePassword(deps.secret, grant.id),
      sslmode: upstream.tls ? ('verify-full' as const) : ('disable' as const),
    };
    return { ...endpoint, url: libpqUrl(endpoint) };
  };

  return {
    async connect(p, request, clientAddress) {
      // A misspelt resource is not a missing grant: say which of the two it is.
      if (!deps.policy().resources.has(request.resource)) {
        throw new PhigateError(
          'not-found',
          'resource.unknown',
          `there is no resource ${request.resource}: \`phigate roles\` lists the ones you may request`,
          { resource: request.resource },
        );
      }
      const now = deps.clock.now();
      const grant = await deps.grants.activeGrant(p.id, request.resource, request.grantId);
      if (grant === undefined) {
        const refusal = new PhigateError(
          'conflict',
          'grant.not-active',
          request.grantId !== undefined
            ? `grant ${request.grantId} is not an active grant of yours on ${request.resource}`
            : `you hold no active grant for ${request.resource}: ask with \`phigate request --resource ${request.resource} …\``,
        );
        await recordRefusal(p, request, refusal.code, clientAddress);
        throw refusal;
      }
      const role = deps.policy().roles.get(grant.role);
      if (role !== undefined && !isEligible(role, p.groups)) {
        await deps.revocation.revoke(grant.id, 'eligibility-lost', {
          authority: 'connection',
          eligibleGroups: role.eligibleGroups,
        });
        throw new PhigateError(
          'forbidden',
          'grant.eligibility-lost',
          `you are no longer in a group eligible for ${grant.role} (${role.eligibleGroups.join(', ')}): ` +
            `grant ${grant.id} has ended`,
        );
      }
      const expiresAt = grant.expiresAt;
      const tokenExpiresAt = new Date(Math.min(expiresAt.getTime(), now.getTime() + deps.tokenTtlMs));
      const minted = deps.tokens.mint({ grantId: grant.id, principalId: p.id, expiresAt: tokenExpiresAt });

      const direct = request.direct === true ? await directEndpoint(grant) : undefined;

      // Nothing is handed out that the log does not show.
      await deps.writer.append([
        {
          action: direct ? 'session.direct-credentials' : 'session.token',
          outcome: 'success',
          who: {
            actor: p.id,
            issuer: p.issuer,
            subject: p.subject,
            name: p.displayName,
            roles: [grant.role],
          },
          what: { resource: grant.resource, requestId: grant.id },
          why: { purposeOfUse: grant.purpose, emergency: grant.emergency || undefined },
          how: {
            clientAddress,
            tokenId: minted.tokenId,
            mfa: p.mfa.satisfied,
            policyVersion: grant.policyHash,
          },
          detail: {
            tokenExpiresAt: tokenExpiresAt.toISOString(),
            ...(direct ? { databaseRole: direct.user } : {}),
          },
        },
      ]);
      const gatewayEndpoint = {
        host: deps.gateway.host,
        port: deps.gateway.port,
        database: grant.resource,
        user: p.subject,
        password: minted.token,
        sslmode: deps.gateway.tls ? ('require' as const) : ('disable' as const),
      };
      return {
        grantId: grant.id,
        resource: grant.resource,
        role: grant.role,
        grantExpiresAt: expiresAt,
        gateway: { ...gatewayEndpoint, url: libpqUrl(gatewayEndpoint), tokenExpiresAt },
        direct,
      };
    },
  };
}
