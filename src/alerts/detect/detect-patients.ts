/**
 * Patients who must not be looked up lightly: restricted ones (VIP, employee, flagged by the privacy office — held as
 * tokens), the requester's own record, and their family's (a look-up supplied by the server, compared as tokens).
 * Any request, grant or statement naming one alerts, once per request and patient: a patient-scoped grant names
 * its patients in every statement event, and one look-up should be one alert.
 */
import type { DetectContext, EventInput } from './detect-context.js';
import type { RequestState } from './engine-state.js';

/** Patients remembered per request as already raised; beyond, a request's later finds are still raised. */
const MAX_RAISED_PER_REQUEST = 200;

type PatientKind = 'restricted-patient' | 'self-lookup' | 'family-lookup';

export function onPatients(
  ctx: DetectContext,
  ev: EventInput,
  id: string,
  req: RequestState,
  tokens: readonly string[],
): void {
  if (tokens.length === 0) return;
  const found: Record<PatientKind, string[]> = {
    'restricted-patient': [],
    'self-lookup': [],
    'family-lookup': [],
  };
  let any = false;
  for (const token of tokens) {
    const kind: PatientKind | undefined = ctx.lookups.isRestricted(token)
      ? 'restricted-patient'
      : relationKind(ctx.lookups.relationOf(req.requester, token));
    if (kind === undefined || req.patientAlerts.includes(token)) continue;
    found[kind].push(token);
    any = true;
    if (req.patientAlerts.length < MAX_RAISED_PER_REQUEST) req.patientAlerts.push(token);
  }
  if (!any) return;
  for (const kind of ['restricted-patient', 'self-lookup', 'family-lookup'] as const) {
    const patientTokens = found[kind];
    if (patientTokens.length === 0) continue;
    ctx.raise({
      kind,
      subject: req.requester,
      at: ctx.now,
      seq: ev.seq,
      key: `${id}:${patientTokens[0]!}`,
      evidence: {
        requestId: id,
        role: req.role,
        resource: req.resource,
        action: ev.record.action,
        patientTokens,
      },
    });
  }
}

function relationKind(relation: 'self' | 'family' | undefined): PatientKind | undefined {
  return relation === 'self' ? 'self-lookup' : relation === 'family' ? 'family-lookup' : undefined;
}
