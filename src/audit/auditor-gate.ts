/**
 * The door of the auditor read API: only auditors read the log, and every read (or refused attempt) is itself
 * appended to it — looking at the log leaves a trace in it.
 */
import { whoOf } from './audit-who.js';
import type { Principal } from '../identity/principal.js';
import { PhigateError } from '../lib/errors.js';
import type { AuditAction } from './actions.js';
import type { AuditWriter } from './audit-writer.js';
import type { AuditEventInput } from './event.js';

export interface AuditorGate {
  /** Refuses (and records the refusal) unless `p` is an auditor. */
  requireAuditor(p: Principal, action: AuditAction): Promise<void>;
  /** Records a successful read or act by an auditor. */
  record(
    p: Principal,
    action: AuditAction,
    detail: Record<string, unknown>,
    extra?: Partial<AuditEventInput>,
  ): Promise<unknown>;
}

export function createAuditorGate(
  writer: Pick<AuditWriter, 'append'>,
  isAuditor: (p: Principal) => boolean,
): AuditorGate {
  return {
    async requireAuditor(p, action) {
      if (isAuditor(p)) return;
      await writer.append([
        {
          action,
          outcome: 'refused',
          reasonCode: 'audit.auditors-only',
          who: whoOf(p),
          how: { tokenId: p.tokenId },
        },
      ]);
      throw new PhigateError('forbidden', 'audit.auditors-only', 'only auditors may read the audit log');
    },

    record(p, action, detail, extra = {}) {
      return writer.append([
        { action, outcome: 'success', who: whoOf(p), how: { tokenId: p.tokenId }, detail, ...extra },
      ]);
    },
  };
}
