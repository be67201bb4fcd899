/** Human renderings of API objects (the `--json` flag prints them raw instead). */
import { safe, table } from './terminal-text.js';

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

export function requestTable(items: readonly RequestLike[]): string {
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
      r.endedAt ?? r.expiresAt ?? '',
    ]),
  );
}

export function requestDetail(r: RequestLike): string {
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
  if (r.requirement) {
    lines.push(
      `  needs          ${r.requirement.count} approval(s) from ${r.requirement.groups.map(safe).join(r.requirement.fromEachGroup ? ' and ' : ' or ')}`,
    );
  }
  // Each approver with their account: display names are not unique, and two lines must never look like one person.
  for (const a of r.approvals ?? []) {
    lines.push(
      `  ${a.verdict === 'approve' ? 'approved by' : 'denied by  '}    ${safe(a.approverName)} <${safe(a.approverId)}>${a.valid ? '' : ' (for another scope: void)'}${a.comment ? ` — ${safe(a.comment)}` : ''}`,
    );
  }
  if (r.expiresAt) lines.push(`  expires        ${safe(r.expiresAt)}`);
  if (r.endedAt)
    lines.push(`  ended          ${safe(r.endedAt)}${r.endReason ? ` (${safe(r.endReason)})` : ''}`);
  for (const reason of r.decision?.reasons ?? [])
    lines.push(`  reason         ${safe(reason.code)}: ${safe(reason.message)}`);
  return lines.join('\n');
}
