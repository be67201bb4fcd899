/**
 * A phigate with its gateway in front of a protected test database, and the moves a gateway test makes: ask for a
 * grant, get a connection token, connect with `pg` over verified TLS, read the audit log.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import type { Endpoint } from '../../src/gateway/connection-service.js';
import type { RunningPhigate } from '../../src/server/start.js';
import { startTestPhigate, type TestPhigate } from './phigate.js';
import { createProtectedDatabase, type ProtectedDatabase } from './protected-db.js';

export const RESOURCE = 'clinic';

/** A policy whose roles activate without approvers (the tests are about the gateway, not approvals). */
export function gatewayPolicy(extraRoles = ''): string {
  return `version: 1
resources:
  ${RESOURCE}: { kind: postgres, connection: { host: 127.0.0.1, port: 5432, database: unused } }
approvalRules:
  auto:
    autoApprove: [{ groups: [analysts] }]
    approvers: { groups: [clinical-leads] }
roles:
  reader:
    resource: ${RESOURCE}
    eligibleGroups: [analysts]
    access:
      public.encounters: { columns: [id, patient_id, department, admitted_at], operations: [SELECT] }
    duration: { default: 10m, max: 1h }
    purposes: [HOPERAT]
    approval: auto
${extraRoles}`;
}

export interface GatewayFixture {
  readonly test: TestPhigate;
  readonly phigate: RunningPhigate;
  readonly protectedDb: ProtectedDatabase;
  /** Active grant for `user` on `role` (auto-approved), lasting `duration`; `more` adds to the request's body. */
  grant(
    user: string,
    role?: string,
    duration?: string,
    more?: { patientIds?: readonly string[]; purpose?: string },
  ): Promise<string>;
  revoke(user: string, grantId: string): Promise<void>;
  /** A connection token for the caller's active grant (or `grantId`). */
  connection(
    user: string,
    body?: Record<string, unknown>,
  ): Promise<{ status: number; body: ConnectionAnswer }>;
  /** A `pg` client through the gateway, TLS verified against the generated certificate. */
  client(user: string, password: string, database?: string): pg.Client;
  auditActions(grantId: string): Promise<{ action: string; outcome: string; canonical: string }[]>;
  /** A call to phigate's API as `user` (a demo user of the development issuer). */
  api(
    user: string,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  stop(): Promise<void>;
}

export interface ConnectionAnswer {
  grantId: string;
  gateway: Endpoint & { tokenExpiresAt: string };
  direct?: Endpoint;
  code?: string;
  detail?: string;
}

export async function startGatewayFixture(
  options: {
    policy?: string;
    gatewayYaml?: string;
    /** More entries under `gateway.resources` (indented four spaces), next to the protected test database's. */
    resourcesYaml?: string;
  } = {},
) {
  const protectedDb = await createProtectedDatabase();
  const u = protectedDb.upstream;
  let test: TestPhigate;
  try {
    test = await startTestPhigate({
      files: { 'policy.yaml': options.policy ?? gatewayPolicy() },
      config: `policy: { file: policy.yaml }
gateway:
  enabled: true
  port: 0
${options.gatewayYaml ?? ''}
  resources:
    ${RESOURCE}:
      host: ${u.host}
      port: ${u.port}
      database: ${u.database}
      adminUrl: '${u.adminUrl}'
${options.resourcesYaml ?? ''}
`,
    });
  } catch (err) {
    await protectedDb.drop();
    throw err;
  }
  const phigate = test.phigate;
  const gateway = phigate.gateway!;
  const ca = gateway.certFile ? readFileSync(gateway.certFile) : undefined;
  const api = async (user: string, method: string, path: string, body?: unknown) => {
    const token = await phigate.mintDevToken!(user);
    const res = await fetch(new URL(path, phigate.url), {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const fixture: GatewayFixture = {
    test,
    phigate,
    protectedDb,
    api,
    async grant(user, role = 'reader', duration = '10m', more = {}) {
      const r = await api(user, 'POST', '/v1/requests', {
        resource: RESOURCE,
        role,
        duration,
        purpose: 'HOPERAT',
        justification: 'Gateway test of the synthetic clinic',
        ...more,
      });
      if (r.status !== 201 || r.body.status !== 'active')
        throw new Error(`grant not active: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.id as string;
    },
    async revoke(user, grantId) {
      const r = await api(user, 'POST', `/v1/grants/${grantId}/revoke`, { reason: 'test' });
      if (r.status !== 200) throw new Error(`revoke answered ${r.status}`);
    },
    async connection(user, body = {}) {
      const r = await api(user, 'POST', '/v1/connections', { resource: RESOURCE, ...body });
      return { status: r.status, body: r.body as unknown as ConnectionAnswer };
    },
    client(user, password, database = RESOURCE) {
      return new pg.Client({
        host: '127.0.0.1',
        port: gateway.port,
        user,
        password,
        database,
        ...(ca ? { ssl: { ca, servername: 'localhost' } } : {}),
      });
    },
    async auditActions(grantId) {
      const rows = await phigate.store.db
        .selectFrom('audit_events')
        .select(['action', 'outcome', 'canonical'])
        .where('request_id', '=', grantId)
        .orderBy('seq')
        .execute();
      return rows;
    },
    async stop() {
      await test.stop();
      await protectedDb.drop();
    },
  };
  return fixture;
}
