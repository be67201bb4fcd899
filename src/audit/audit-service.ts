/**
 * The audit log as a service: what phigate writes through (the group-commit writer, the pseudonymizer) and what
 * signs (the checkpointer) — `audit-runtime.ts` — and what auditors read — events, checkpoints, proofs,
 * verification, exports, the accounting of disclosures — `auditor-reads.ts`. Every read is for auditors only, and
 * is itself recorded: looking at the log leaves a trace in it.
 */
import { createAuditRuntime, type AuditRuntime, type AuditRuntimeOptions } from './audit-runtime.js';
import { createAuditorReads, type AuditorReads, type AuditorReadsOptions } from './auditor-reads.js';

export type { DisclosureQuery } from './auditor-reads.js';

export type AuditServiceOptions = AuditRuntimeOptions & AuditorReadsOptions;

export interface AuditService extends AuditRuntime, AuditorReads {}

export function createAuditService(options: AuditServiceOptions): AuditService {
  const runtime = createAuditRuntime(options);
  return { ...runtime, ...createAuditorReads(options, runtime) };
}
