/**
 * The audit vocabulary of gateway sessions: connections opened, refused and closed, and each statement — recorded
 * before it is forwarded (`statement.execute`), and the database's answers to a run of them (`statement.complete`:
 * rows, duration, outcome of each — and, for each statement that disclosed PHI, the patients its rows named). SQL appears only as its fingerprint; literals, bound parameters and patient ids only as keyed tokens.
 * Pure: it builds events, the caller writes them.
 */
import type { Grant } from '../access/grant.js';
import type { RecordedDisclosure } from '../audit/disclosures.js';
import type { AuditEventInput, AuditHow, AuditStatement, AuditWho, PatientToken } from '../audit/event.js';
import type { Pseudonymizer } from '../audit/pseudonymizer.js';
import { splitPrincipalId } from '../identity/principal.js';
import { fingerprintSql } from '../audit/sql-fingerprint.js';
import type { ResolvedDisclosure } from './disclosure.js';
import type { StatementResult } from './postgres/statement-tracker.js';
import type { StatementToAudit } from './postgres/relay.js';

/** What every event of one session shares. */
export interface SessionContext {
  readonly grant: Grant;
  readonly sessionId: string;
  readonly clientAddress: string;
  /** The connection token's id, or the OIDC token's `jti`. */
  readonly tokenId: string | undefined;
  /** The database role the session runs as. */
  readonly databaseRole: string;
}

function who(grant: Grant): AuditWho {
  return {
    actor: grant.requesterId,
    ...splitPrincipalId(grant.requesterId),
    name: grant.requester.displayName,
    groups: grant.requester.groups,
    roles: [grant.role],
  };
}

function how(c: SessionContext): AuditHow {
  return {
    clientAddress: c.clientAddress,
    sessionId: c.sessionId,
    tokenId: c.tokenId,
    policyVersion: c.grant.policyHash,
  };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function createStatementEvents(pseudonymizer: Pseudonymizer) {
  // A patient-scoped grant's rows can only be its patients' (the database's views keep the rest out), so every event
  // of its sessions names them, as tokens: that is what lets a patient's accounting of disclosures find each statement.
  const patientTokens = new WeakMap<Grant, readonly PatientToken[] | undefined>();
  const patientsOf = (grant: Grant): readonly PatientToken[] | undefined => {
    if (!patientTokens.has(grant)) {
      const ids = [...new Set(grant.patientIds)];
      patientTokens.set(grant, ids.length > 0 ? ids.map((id) => pseudonymizer.patient(id)) : undefined);
    }
    return patientTokens.get(grant);
  };

  // A grant that names no patients is accounted for from its results: each patient id a statement returned becomes
  // a token. The same ids come back again and again, so their tokens are kept (a bounded cache).
  const resultTokens = new Map<string, PatientToken>();
  const tokenOf = (id: string): PatientToken => {
    let token = resultTokens.get(id);
    if (token === undefined) {
      if (resultTokens.size >= 50_000) resultTokens.clear();
      resultTokens.set(id, (token = pseudonymizer.patient(id)));
    }
    return token;
  };

  const base = (c: SessionContext): Pick<AuditEventInput, 'who' | 'what' | 'why' | 'how'> => ({
    who: who(c.grant),
    what: { resource: c.grant.resource, requestId: c.grant.id, patients: patientsOf(c.grant) },
    why: { purposeOfUse: c.grant.purpose, emergency: c.grant.emergency || undefined },
    how: how(c),
  });

  // A text-format parameter gets the same token as the same value written as a literal; binary ones their bytes'.
  const parameterToken = (p: Buffer | null): string | null => {
    if (p === null) return null;
    let text: string;
    try {
      text = utf8.decode(p);
    } catch {
      text = `\\x${p.toString('hex')}`;
    }
    return pseudonymizer.literal(text);
  };

  const recorded = (s: StatementToAudit): AuditStatement => {
    const { fingerprint, literals } = fingerprintSql(s.sql);
    return {
      fingerprint,
      literals: literals.length > 0 ? literals.map((l) => pseudonymizer.literal(l)) : undefined,
      parameters:
        s.parameters !== undefined && s.parameters.length > 0 ? s.parameters.map(parameterToken) : undefined,
    };
  };

  return {
    sessionOpened(c: SessionContext, detail: Record<string, unknown>): AuditEventInput {
      return {
        action: 'session.open',
        outcome: 'success',
        ...base(c),
        detail: { databaseRole: c.databaseRole, ...detail },
      };
    },

    sessionClosed(c: SessionContext, reason: string, detail: Record<string, unknown>): AuditEventInput {
      return { action: 'session.close', outcome: 'success', ...base(c), detail: { reason, ...detail } };
    },

    statement(c: SessionContext, s: StatementToAudit): AuditEventInput {
      const b = base(c);
      return {
        action: 'statement.execute',
        outcome: s.refusedBy === undefined ? 'success' : 'refused',
        ...(s.refusedBy !== undefined ? { reasonCode: s.refusedBy } : {}),
        ...b,
        what: { ...b.what, statement: recorded(s) },
        detail: { statementId: s.id, protocol: s.kind },
      };
    },

    /**
     * A run of statements in one record (`gateway.auditWait: queued`): each as `statement.execute` would record it,
     * with the time it was queued, so that what ran before or after a grant's end stays visible.
     */
    statements(
      c: SessionContext,
      queued: readonly { readonly statement: StatementToAudit; readonly at: Date }[],
    ): AuditEventInput {
      const refused = queued.filter((q) => q.statement.refusedBy !== undefined).length;
      return {
        action: 'statement.batch',
        outcome: refused === 0 ? 'success' : 'refused',
        ...base(c),
        detail: {
          refused,
          statements: queued.map(({ statement, at }) => ({
            statementId: statement.id,
            protocol: statement.kind,
            at: at.toISOString(),
            ...recorded(statement),
            ...(statement.refusedBy !== undefined ? { refusedBy: statement.refusedBy } : {}),
          })),
        },
      };
    },

    /**
     * What the database answered to a run of the session's statements (rows, duration, outcome), in one event: a
     * session's completions are gathered for a moment rather than costing one record each. A statement that
     * disclosed PHI (disclosure.ts) carries its disclosure: the tables it read, the patients its result named (as
     * tokens) and, when its rows could not all be tied to patients, why. This record is what the accounting of
     * disclosures lists, once per statement execution (`run` ties the Executes of one portal together).
     */
    completions(
      c: SessionContext,
      done: readonly {
        readonly statement: StatementToAudit;
        readonly result: StatementResult;
        readonly disclosure?: ResolvedDisclosure | undefined;
      }[],
    ): AuditEventInput {
      const failed = done.filter((d) => d.result.outcome !== 'success').length;
      const b = base(c);
      const scoped = b.what?.patients !== undefined;
      const disclosed = new Set<PatientToken>();
      let unattributed = false;
      const results = done.map(({ statement, result, disclosure }) => {
        const patients = disclosure?.patients.map(tokenOf);
        for (const token of patients ?? []) disclosed.add(token);
        if (disclosure?.unattributed !== undefined) unattributed = true;
        const recordedDisclosure: RecordedDisclosure | undefined =
          disclosure === undefined
            ? undefined
            : {
                tables: disclosure.tables,
                ...(patients !== undefined && patients.length > 0 ? { patients } : {}),
                ...(disclosure.unattributed !== undefined ? { unattributed: disclosure.unattributed } : {}),
              };
        return {
          statementId: statement.id,
          ...(statement.run !== undefined && statement.run !== statement.id ? { run: statement.run } : {}),
          protocol: statement.kind,
          outcome: result.outcome,
          ...(result.rows !== undefined ? { rows: result.rows } : {}),
          ...(result.returned > 0 ? { returned: result.returned } : {}),
          durationMs: Math.round(result.durationMs * 1000) / 1000,
          ...(result.sqlState !== undefined ? { sqlState: result.sqlState } : {}),
          // Which statement disclosed whom, for the accounting of disclosures (the SQL as its fingerprint).
          ...(recordedDisclosure !== undefined
            ? { fingerprint: fingerprintSql(statement.sql).fingerprint, disclosure: recordedDisclosure }
            : {}),
        };
      });
      return {
        action: 'statement.complete',
        outcome: failed === 0 ? 'success' : 'failure',
        ...b,
        what: {
          ...b.what,
          patients: b.what?.patients ?? (disclosed.size > 0 ? [...disclosed] : undefined),
          // A grant without patients: an unattributed statement belongs in every patient's accounting.
          ...(unattributed && !scoped ? { unattributed: true as const } : {}),
        },
        detail: { failed, ...(scoped ? { patientScope: true } : {}), results },
      };
    },
  };
}

export type StatementEvents = ReturnType<typeof createStatementEvents>;
