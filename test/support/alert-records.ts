/**
 * Audit records as phigate writes them (access/access-audit.ts, gateway/statement-events.ts, docs/audit.md), for
 * the labelled alert workload: only the fields those writers fill, with SYNTHETIC identifiers and made-up tokens.
 */
import type { AuditAction } from '../../src/audit/actions.js';
import type { AuditRecord, PatientToken } from '../../src/audit/event.js';

export interface Grant {
  readonly id: string;
  readonly requester: string;
  readonly role: string;
  readonly resource: string;
  readonly patients?: readonly string[];
  readonly emergency?: boolean;
}

const iso = (ms: number) => new Date(ms).toISOString();
const tokens = (xs: readonly string[] | undefined) =>
  xs !== undefined && xs.length > 0 ? (xs as readonly PatientToken[]) : undefined;

function base(action: AuditAction, at: number, actor: string, g: Grant): AuditRecord {
  return {
    v: 1,
    recordedAt: iso(at),
    action,
    outcome: 'success',
    who: { actor, roles: [g.role] },
    what: { resource: g.resource, requestId: g.id, patients: tokens(g.patients) },
    why: {
      purposeOfUse: g.emergency === true ? 'ETREAT' : 'TREAT',
      emergency: g.emergency === true || undefined,
    },
  };
}

export const rec = {
  create: (at: number, g: Grant): AuditRecord => ({
    ...base('request.create', at, g.requester, g),
    detail: { patientCount: g.patients?.length ?? 0, status: 'pending' },
  }),
  refusedCreate: (at: number, g: Grant, reasonCode: string): AuditRecord => ({
    ...base('request.create', at, g.requester, { ...g, id: '' }),
    what: { resource: g.resource, patients: tokens(g.patients) },
    outcome: 'refused',
    reasonCode,
  }),
  approve: (at: number, g: Grant, approver: string): AuditRecord => ({
    ...base('request.approve', at, approver, g),
    detail: { satisfied: true },
  }),
  deny: (at: number, g: Grant, approver: string): AuditRecord => base('request.deny', at, approver, g),
  activate: (at: number, g: Grant, approvers: readonly string[]): AuditRecord => {
    const r = base('grant.activate', at, g.requester, g);
    return { ...r, who: { ...r.who, approvers: approvers.length > 0 ? approvers : undefined } };
  },
  expire: (at: number, g: Grant): AuditRecord => ({
    ...base('grant.expire', at, 'system', g),
    detail: { requesterId: g.requester },
  }),
  reviewClose: (at: number, g: Grant, reviewer: string): AuditRecord => ({
    ...base('review.close', at, reviewer, g),
    detail: { outcome: 'appropriate' },
  }),
  sessionOpen: (at: number, g: Grant): AuditRecord => ({
    ...base('session.open', at, g.requester, g),
    how: { sessionId: `s-${g.id}` },
  }),
  sessionClose: (at: number, g: Grant): AuditRecord => ({
    ...base('session.close', at, g.requester, g),
    detail: { reason: 'client-closed' },
  }),
  execute: (
    at: number,
    g: Grant,
    statementId: string,
    fingerprint: string,
    refusedBy?: string,
  ): AuditRecord => {
    const r = base('statement.execute', at, g.requester, g);
    return {
      ...r,
      outcome: refusedBy === undefined ? 'success' : 'refused',
      ...(refusedBy !== undefined ? { reasonCode: refusedBy } : {}),
      what: { ...r.what, statement: { fingerprint } },
      how: { sessionId: `s-${g.id}` },
      detail: { statementId, protocol: 'query' },
    };
  },
  complete: (
    at: number,
    g: Grant,
    results: readonly { statementId: string; rows: number; patients: readonly string[] }[],
  ): AuditRecord => {
    const scoped = g.patients !== undefined && g.patients.length > 0;
    const disclosed = new Set<string>();
    for (const x of results) for (const p of x.patients) disclosed.add(p);
    const r = base('statement.complete', at, g.requester, g);
    return {
      ...r,
      what: { ...r.what, patients: scoped ? tokens(g.patients) : tokens([...disclosed]) },
      how: { sessionId: `s-${g.id}` },
      detail: {
        failed: 0,
        ...(scoped ? { patientScope: true } : {}),
        results: results.map((x) => ({
          statementId: x.statementId,
          protocol: 'query',
          outcome: 'success',
          rows: x.rows,
          returned: x.rows,
          durationMs: 1.5,
          ...(x.patients.length > 0 && !scoped
            ? {
                fingerprint: 'select * from visits where ward = ?',
                disclosure: { tables: ['public.visits'], patients: x.patients },
              }
            : {}),
        })),
      },
    };
  },
  authReject: (at: number, address: string, reasonCode: string, count?: number): AuditRecord => ({
    v: 1,
    recordedAt: iso(at),
    action: 'auth.reject',
    outcome: 'refused',
    reasonCode,
    who: { actor: 'anonymous' },
    how: { clientAddress: address },
    detail: { method: 'POST', route: '/v1/requests', status: 401, ...(count !== undefined ? { count } : {}) },
  }),
  sessionRefuse: (at: number, person: string, resource: string): AuditRecord => ({
    v: 1,
    recordedAt: iso(at),
    action: 'session.refuse',
    outcome: 'refused',
    reasonCode: 'gateway.no-active-grant',
    who: { actor: person },
    what: { resource },
    how: { clientAddress: '10.0.0.9' },
  }),
};
