/**
 * The auditor read API: events (queried or followed), verification, exports and a patient's accounting of
 * disclosures, with the proofs of `auditor-proofs.ts`. Every read is for auditors only, and is itself recorded
 * (`auditor-gate.ts`). What writes and signs the log is `audit-runtime.ts`.
 */
import type { KeyObject } from 'node:crypto';
import type { Principal } from '../identity/principal.js';
import type { Clock } from '../lib/clock.js';
import { PhigateError } from '../lib/errors.js';
import type { Db } from '../store/database.js';
import { snapshotLines } from '../store/snapshot-stream.js';
import { AuditLogDamaged } from './appended-tree.js';
import type { AuditRuntime } from './audit-runtime.js';
import { createAuditorGate, type AuditorGate } from './auditor-gate.js';
import { createAuditorProofs, type AuditorProofs } from './auditor-proofs.js';
import { publicKeyId } from './checkpoint.js';
import { UNATTRIBUTED_INDEX_TOKEN } from './disclosures.js';
import type { PatientToken, StoredAuditEvent } from './event.js';
import { queryEvents, type EventFilter } from './event-query.js';
import { startEventFollow, type EventFollow, type FollowFilter } from './event-follow.js';
import type { ExportFormat } from './export-format.js';
import { exportLinesOf } from './export-format.js';
import { exportJsonlLines } from './export-jsonl.js';
import type { VerifyReport } from './log-verifier.js';
import { verifyStore } from './verify-store.js';
import type { Witness } from './witness.js';

export interface DisclosureQuery {
  readonly patient: string;
  readonly from?: Date | undefined;
  readonly to?: Date | undefined;
}

export interface AuditorReads extends AuditorProofs {
  /** Events matching the filter; `patient` (an identifier) is turned into its token here and goes no further. */
  events(p: Principal, filter: EventFilter & { patient?: string | undefined }): Promise<StoredAuditEvent[]>;
  /** A lasting query (`audit tail -f`): recorded when it starts and ends, not at each poll. */
  follow(p: Principal, filter: FollowFilter, backlog: number): Promise<EventFollow>;
  verify(p: Principal): Promise<VerifyReport>;
  exportLines(p: Principal, format: ExportFormat): Promise<AsyncGenerator<string>>;
  disclosures(
    p: Principal,
    query: DisclosureQuery,
  ): Promise<{ token: string; events: StoredAuditEvent[]; truncated: boolean }>;
}

export interface AuditorReadsOptions {
  readonly db: Db;
  readonly clock: Clock;
  readonly origin: string;
  readonly signingKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicKeyPem: string;
  readonly witnesses?: readonly Witness[];
  /** Who may read the log (the current policy's auditors). */
  readonly isAuditor: (p: Principal) => boolean;
}

const DISCLOSURE_LIMIT = 10_000;

/** A patient's accounting, page by page until the limit is reached (the caller cuts it there). */
async function disclosureEvents(db: Db, token: string, query: DisclosureQuery): Promise<StoredAuditEvent[]> {
  const events: StoredAuditEvent[] = [];
  let cursor: number | undefined;
  for (;;) {
    const page = await queryEvents(db, {
      // The patient's own records, and those of statements no patient could be named for (every patient's).
      anyPatientToken: [token, UNATTRIBUTED_INDEX_TOKEN],
      from: query.from,
      to: query.to,
      cursor,
      limit: 1000,
    });
    events.push(...page);
    if (page.length < 1000 || events.length >= DISCLOSURE_LIMIT) break;
    cursor = page[page.length - 1]!.seq;
  }
  return events;
}

/** Verification and export: the heavy reads, each over the whole log. */
function wholeLogReads(
  options: AuditorReadsOptions,
  runtime: Pick<AuditRuntime, 'checkpointer'>,
  gate: AuditorGate,
): Pick<AuditorReads, 'verify' | 'exportLines'> {
  const { db, origin } = options;
  let verifying = false;
  return {
    async verify(p) {
      await gate.requireAuditor(p, 'audit.verify');
      // Re-hashing the whole log is the heaviest thing an API call can ask for: one at a time per replica.
      if (verifying) {
        throw new PhigateError(
          'conflict',
          'audit.verify-running',
          'a verification is already running; try again when it ends',
        );
      }
      verifying = true;
      let report: VerifyReport;
      try {
        const witnesses = options.witnesses ?? [];
        report = await verifyStore(db, { trustedKeys: [options.publicKey], origin, witnesses });
      } finally {
        verifying = false;
      }
      await gate.record(p, 'audit.verify', {
        ok: report.ok,
        size: report.size,
        firstBadSeq: report.firstBadSeq,
      });
      return report;
    },

    async exportLines(p, format) {
      await gate.requireAuditor(p, 'audit.export');
      await gate.record(p, 'audit.export', { format });
      // A checkpoint over the export's own record, signed before the snapshot is taken: the archive then carries no
      // event that no signature covers (it stops at its latest checkpoint). A damaged log is still exported — up to
      // the last checkpoint signed before the damage, which is what an investigation needs.
      await runtime.checkpointer.checkpoint().catch((err: unknown) => {
        if (!(err instanceof AuditLogDamaged)) throw err;
      });
      const header = {
        origin,
        exportedAt: options.clock.now().toISOString(),
        publicKeys: [{ keyId: publicKeyId(options.publicKey), pem: options.publicKeyPem }],
      };
      return snapshotLines(db, (tx) =>
        format === 'jsonl'
          ? exportJsonlLines(tx, header, options.signingKey)
          : exportLinesOf(tx, format, origin),
      );
    },
  };
}

export function createAuditorReads(
  options: AuditorReadsOptions,
  runtime: Pick<AuditRuntime, 'pseudonymizer' | 'writer' | 'checkpointer'>,
): AuditorReads {
  const { db } = options;
  const { pseudonymizer } = runtime;
  const gate = createAuditorGate(runtime.writer, options.isAuditor);
  return {
    ...createAuditorProofs({ db, checkpointer: runtime.checkpointer, gate }),
    ...wholeLogReads(options, runtime, gate),

    async events(p, query) {
      await gate.requireAuditor(p, 'audit.query');
      const { patient, ...rest } = query;
      const filter: EventFilter =
        patient === undefined ? rest : { ...rest, patientToken: pseudonymizer.patient(patient) };
      const events = await queryEvents(db, filter);
      const { from, to } = filter;
      const described = {
        ...filter,
        patientToken: undefined,
        from: from?.toISOString(),
        to: to?.toISOString(),
      };
      await gate.record(
        p,
        'audit.query',
        { filter: described, returned: events.length },
        filter.patientToken ? { what: { patients: [filter.patientToken as PatientToken] } } : {},
      );
      return events;
    },

    follow(p, filter, backlog) {
      return startEventFollow(
        {
          db,
          patientToken: (patient) => pseudonymizer.patient(patient),
          requireAuditor: (who) => gate.requireAuditor(who, 'audit.query'),
          record: (who, detail, patients) =>
            gate.record(
              who,
              'audit.query',
              detail,
              patients.length > 0 ? { what: { patients: [...patients] } } : {},
            ),
        },
        p,
        filter,
        backlog,
      );
    },

    async disclosures(p, query) {
      await gate.requireAuditor(p, 'audit.disclosures');
      const token = pseudonymizer.patient(query.patient);
      const events = await disclosureEvents(db, token, query);
      await gate.record(p, 'audit.disclosures', { returned: events.length }, { what: { patients: [token] } });
      return {
        token,
        events: events.slice(0, DISCLOSURE_LIMIT),
        truncated: events.length > DISCLOSURE_LIMIT,
      };
    },
  };
}
