/** Human renderings of API objects (the `--json` flag prints them raw instead). */
import { safe, table } from './terminal-text.js';
import { systemTimes, when, type TimeContext } from './times.js';

export interface RequestLike {
  id: string;
  status: string;
  requester?: { id: string; displayName: string };
  resource: string;
  role: string;
  durationMs: number;
  purpose: string;
  justification?: string;
  patientIds?: string[];
  patientsFound?: number;
  emergency?: boolean;
  expiresAt?: string;
  createdAt?: string;
  pendingUntil?: string;
  decidedAt?: string;
  endedAt?: string;
  endReason?: string;
  decision?: { outcome: string; reasons: { code: string; message: string }[] };
  requirement?: { count: number; groups: string[]; fromEachGroup: boolean };
  approvals?: {
    approverId: string;
    approverName: string;
    verdict: string;
    valid: boolean;
    comment?: string;
  }[];
}

export function minutes(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 1000)}s`;
}

/** What an approver should know about the named patients: whether phigate found them in the database. */
function patientsFound(named: number, found: number | undefined, resource: string): string {
  if (found === undefined)
    return `not looked up in ${safe(resource)} (no patient table or provisioning account)`;
  return `${found} of ${named} in ${safe(resource)}`;
}

/** When a request ends or ended: its countdown while active, how long ago once over. */
function ends(r: RequestLike, times: TimeContext): string {
  const at = r.endedAt ?? r.expiresAt;
  return at === undefined ? '' : when(at, times);
}

export function requestTable(items: readonly RequestLike[], times: TimeContext = systemTimes()): string {
  if (items.length === 0) return '(none)';
  return table(
    ['ID', 'STATUS', 'REQUESTER', 'ROLE', 'RESOURCE', 'DURATION', 'PURPOSE', 'ENDS'],
    items.map((r) => [
      r.id,
      r.emergency ? `${r.status} (break-glass)` : r.status,
      r.requester?.displayName ?? '',
      r.role,
      r.resource,
      minutes(r.durationMs),
      r.purpose,
      ends(r, times),
    ]),
  );
}

/**
 * One request as it stands: while pending, what it still needs and why; once decided, what happened — who approved
 * or denied it, when it was decided, when it ends or ended — not what was needed once.
 */
export function requestDetail(r: RequestLike, times: TimeContext = systemTimes()): string {
  const lines = [
    `Request ${safe(r.id)}: ${safe(r.status)}${r.emergency ? ' (break-glass)' : ''}`,
    `  requester      ${safe(r.requester?.displayName)} <${safe(r.requester?.id)}>`,
    `  role           ${safe(r.role)} on ${safe(r.resource)} for ${minutes(r.durationMs)}`,
    `  purpose        ${safe(r.purpose)}`,
    `  justification  ${safe(r.justification)}`,
  ];
  if (r.patientIds?.length) {
    lines.push(`  patients       ${r.patientIds.map(safe).join(', ')}`);
    lines.push(`  found          ${patientsFound(r.patientIds.length, r.patientsFound, r.resource)}`);
  }
  if (r.createdAt) lines.push(`  asked          ${safe(when(r.createdAt, times))}`);
  const pending = r.status === 'pending';
  if (pending && r.requirement) {
    lines.push(
      `  needs          ${r.requirement.count} approval(s) from ${r.requirement.groups.map(safe).join(r.requirement.fromEachGroup ? ' and ' : ' or ')}`,
    );
  }
  if (pending && r.pendingUntil) lines.push(`  waits until    ${safe(when(r.pendingUntil, times))}`);
  // Each approver with their account: display names are not unique, and two lines must never look like one person.
  for (const a of r.approvals ?? []) {
    lines.push(
      `  ${a.verdict === 'approve' ? 'approved by' : 'denied by  '}    ${safe(a.approverName)} <${safe(a.approverId)}>${a.valid ? '' : ' (for another scope: void)'}${a.comment ? ` — ${safe(a.comment)}` : ''}`,
    );
  }
  if (
    !pending &&
    r.decision?.outcome === 'allow' &&
    !(r.approvals ?? []).some((a) => a.verdict === 'approve')
  )
    lines.push('  approved by    the policy (no approval needed)');
  if (!pending && r.decidedAt) lines.push(`  decided        ${safe(when(r.decidedAt, times))}`);
  if (r.expiresAt && !r.endedAt) lines.push(`  expires        ${safe(when(r.expiresAt, times))}`);
  if (r.endedAt)
    lines.push(
      `  ended          ${safe(when(r.endedAt, times))}${r.endReason ? ` (${safe(r.endReason)})` : ''}`,
    );
  // The policy's reasons explain a pending request or a refusal; after an approval they describe the past.
  if (pending || r.decision?.outcome === 'deny') {
    for (const reason of r.decision?.reasons ?? [])
      lines.push(`  reason         ${safe(reason.code)}: ${safe(reason.message)}`);
  }
  return lines.join('\n');
}
