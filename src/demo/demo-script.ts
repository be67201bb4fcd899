/**
 * The scripted demo story, played over the real HTTP API with tokens from the development issuer:
 * request → approval by someone else → active → expires on time; self-approval refused; a request over the
 * maximum refused; break-glass active at once with a review item and an alert event; a care-team grant that ends
 * when one of its patients is handed over to another team; then an auditor verifies the
 * log, proves the grant's event and prints a patient's accounting of disclosures. Every step checks what it
 * claims, and the script fails (exit code 1) if any step misbehaves.
 */
import { loadVerifyingKey } from '../audit/checkpoint.js';
import { checkInclusionProof, type InclusionProofView } from '../audit/proof-view.js';
import type { Db } from '../store/database.js';
import { gatewaySteps, type GatewaySteps } from './demo-gateway-steps.js';
import { psqlAvailable, type PsqlEndpoint } from './psql.js';

export interface DemoContext {
  readonly apiUrl: string;
  readonly mintToken: (username: string) => Promise<string>;
  readonly db: Db;
  readonly print: (line: string) => void;
  /** How long the demo grant lasts; the script waits for it to expire. */
  readonly grantSeconds?: number;
  /** The PostgreSQL gateway in front of the demo's clinic database (its steps need psql). */
  readonly gateway?: { readonly host: string; readonly port: number; readonly sslmode: string } | undefined;
  /** The synthetic clinic's care team, changed as the hospital's systems would, and phigate's check of it. */
  readonly careTeam?:
    | {
        /** Ends `clinician`'s care of `patientId`; returns how to undo it. */
        readonly handOver: (patientId: number, clinician: string) => Promise<() => Promise<void>>;
        /** One round of phigate's care-relation check (it runs every minute on its own). */
        readonly checkNow: () => Promise<unknown>;
      }
    | undefined;
}

interface RoleView {
  name: string;
  resource: string;
  emergency: boolean;
  maxDurationMs: number;
  purposes: string[];
  patientScope: 'required' | 'optional' | 'none';
  careRelation?: string;
  approval?: { count: number } | null;
}

interface RequestView {
  id: string;
  status: string;
  patientIds: string[];
  expiresAt?: string | null;
  activatedAt?: string | null;
  endedAt?: string | null;
  endReason?: string | null;
}

interface ApiAnswer<T> {
  status: number;
  body: T & { code?: string; detail?: string };
}

class StepFailed extends Error {}

async function call<T>(
  ctx: DemoContext,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<ApiAnswer<T>> {
  const res = await fetch(new URL(path, ctx.apiUrl), {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as T & { code?: string; detail?: string } };
}

function expect(condition: boolean, what: string): void {
  if (!condition) throw new StepFailed(what);
}

const SYNTHETIC_PATIENTS = ['MRN-DEMO-0001', 'MRN-DEMO-0002'];

export async function playDemoScript(ctx: DemoContext): Promise<boolean> {
  const grantSeconds = ctx.grantSeconds ?? 20;
  let step = 0;
  const ok = (text: string): void => ctx.print(`  ✔ ${++step}. ${text}`);
  let gateway: GatewaySteps | undefined;
  if (ctx.gateway === undefined) ctx.print('  (the gateway is off: its steps are skipped)');
  else if (!psqlAvailable()) ctx.print('  (psql is not installed: the gateway steps are skipped)');
  else gateway = gatewaySteps({ db: ctx.db, gateway: ctx.gateway });
  try {
    const dan = await ctx.mintToken('dan');
    const carol = await ctx.mintToken('carol');
    const olivia = await ctx.mintToken('olivia');

    const danRoles = await call<{ items: RoleView[] }>(ctx, dan, 'GET', '/v1/roles');
    expect(danRoles.status === 200, `GET /v1/roles answered ${danRoles.status}`);
    const role = danRoles.body.items.find((r) => !r.emergency && r.approval);
    expect(role !== undefined, 'the demo policy offers Dan (analyst) no role that needs approval');
    const analystRole = role!;
    ok(`Dan (data analyst) may request ${analystRole.name} on ${analystRole.resource}, approval required`);

    const request = {
      resource: analystRole.resource,
      role: analystRole.name,
      duration: `${grantSeconds}s`,
      purpose: analystRole.purposes[0],
      justification: 'Quality review of two synthetic demo encounters (ticket DEMO-1)',
      ticket: 'DEMO-1',
      ...(analystRole.patientScope === 'none' ? {} : { patientIds: SYNTHETIC_PATIENTS }),
    };
    const created = await call<RequestView>(ctx, dan, 'POST', '/v1/requests', request);
    expect(created.status === 201, `request answered ${created.status} ${created.body.code ?? ''}`);
    expect(created.body.status === 'pending', `request is ${created.body.status}, expected pending`);
    const id = created.body.id;
    ok(`Dan asks for ${grantSeconds}s of access: request ${id} is pending`);
    if (gateway) ok(await gateway.refusedWithoutGrant(dan, analystRole.resource));

    const self = await call<RequestView>(ctx, dan, 'POST', `/v1/requests/${id}/approve`, {});
    expect(self.status >= 400 && self.status < 500, `self-approval answered ${self.status}`);
    ok(`Dan cannot approve his own request (${self.status} ${self.body.code ?? ''})`);

    const approved = await call<RequestView>(ctx, carol, 'POST', `/v1/requests/${id}/approve`, {
      comment: 'Scope and purpose are appropriate',
    });
    expect(approved.status === 200, `approval answered ${approved.status} ${approved.body.code ?? ''}`);
    expect(approved.body.status === 'active', `after approval the request is ${approved.body.status}`);
    const expiresAt = new Date(approved.body.expiresAt ?? '');
    const activatedAt = new Date(approved.body.activatedAt ?? '');
    expect(
      expiresAt.getTime() - activatedAt.getTime() === grantSeconds * 1000,
      'the clock must start at activation',
    );
    ok(`Dr. Carol Lead approves: the grant is active until ${expiresAt.toISOString()}`);
    if (gateway) {
      const connection = await call<{ gateway: PsqlEndpoint }>(ctx, dan, 'POST', '/v1/connections', {
        resource: analystRole.resource,
      });
      expect(connection.status === 200, `POST /v1/connections answered ${connection.status}`);
      for (const line of await gateway.duringGrant(connection.body.gateway)) ok(line);
    }

    const tooLong = await call<RequestView>(ctx, dan, 'POST', '/v1/requests', {
      ...request,
      duration: `${Math.ceil(analystRole.maxDurationMs / 3_600_000) + 1}h`,
    });
    expect(tooLong.status >= 400 && tooLong.status < 500, `over-maximum request answered ${tooLong.status}`);
    ok(`A request over the role's maximum is refused (${tooLong.status} ${tooLong.body.code ?? ''})`);

    const oliviaRoles = await call<{ items: RoleView[] }>(ctx, olivia, 'GET', '/v1/roles');
    const glass = oliviaRoles.body.items.find((r) => r.emergency);
    expect(glass !== undefined, 'the demo policy offers the on-call physician no break-glass role');
    const breakGlass = glass!;
    const emergency = await call<RequestView>(ctx, olivia, 'POST', '/v1/requests', {
      resource: breakGlass.resource,
      role: breakGlass.name,
      duration: '15m',
      purpose: breakGlass.purposes.includes('BTG') ? 'BTG' : breakGlass.purposes[0],
      justification: 'Unresponsive synthetic patient in the demo ED; approvers unreachable',
      ...(breakGlass.patientScope === 'required' ? { patientIds: [SYNTHETIC_PATIENTS[0]] } : {}),
    });
    expect(emergency.status === 201, `break-glass answered ${emergency.status} ${emergency.body.code ?? ''}`);
    expect(
      emergency.body.status === 'active',
      `break-glass is ${emergency.body.status}, expected active at once`,
    );
    const review = await ctx.db
      .selectFrom('review_items')
      .select(['status'])
      .where('request_id', '=', emergency.body.id)
      .executeTakeFirst();
    const alert = await ctx.db
      .selectFrom('alert_events')
      .select(['severity'])
      .where('request_id', '=', emergency.body.id)
      .executeTakeFirst();
    expect(review?.status === 'open', 'break-glass must open a review item');
    expect(alert !== undefined, 'break-glass must raise an alert event');
    ok(
      `Dr. Olivia Oncall breaks the glass: active at once, review item open, ${alert!.severity} alert raised`,
    );
    const revoked = await call<RequestView>(ctx, olivia, 'POST', `/v1/grants/${emergency.body.id}/revoke`, {
      reason: 'Patient stabilised; demo over',
    });
    expect(
      revoked.body.status === 'revoked',
      `revoking the break-glass grant left it ${revoked.body.status}`,
    );
    ok('She ends her break-glass grant herself when done: revoked');

    const careTeam = oliviaRoles.body.items.find((r) => r.careRelation !== undefined);
    if (gateway && careTeam) {
      // The care relation is read from the protected database, which only the gateway's configuration reaches.
      const rounds = await call<RequestView>(ctx, olivia, 'POST', '/v1/requests', {
        resource: careTeam.resource,
        role: careTeam.name,
        duration: '15m',
        purpose: 'TREAT',
        justification: 'Morning rounds on my synthetic ward',
      });
      expect(rounds.status === 201, `care-team request answered ${rounds.status} ${rounds.body.code ?? ''}`);
      expect(rounds.body.status === 'active', `care-team request is ${rounds.body.status}, expected active`);
      const patients = rounds.body.patientIds.length;
      expect(patients === 5, `the care team gave ${patients} patients, not 5`);
      ok(
        `Dr. Olivia asks to treat her own patients, naming none: phigate finds the ${patients} on her care team ` +
          `today in ${careTeam.careRelation!} (not the one she left in 2025) — active at once, no approver needed`,
      );
      if (ctx.careTeam === undefined) {
        await call(ctx, olivia, 'POST', `/v1/grants/${rounds.body.id}/revoke`, { reason: 'Rounds done' });
      } else {
        const handBack = await ctx.careTeam.handOver(5, 'olivia');
        try {
          await ctx.careTeam.checkNow();
          const after = await call<RequestView>(ctx, olivia, 'GET', `/v1/requests/${rounds.body.id}`);
          expect(
            after.body.status === 'revoked' && after.body.endReason === 'care-relation-ended',
            `after the handover her grant is ${after.body.status} (${after.body.endReason ?? ''})`,
          );
          ok(
            'Patient MRN-DEMO-0005 is handed over to another team (the script ends her row in the synthetic ' +
              "care_team, as the hospital's systems would): phigate's next check of care relations (every minute; " +
              'run now) ends her grant — revoked by the system, "care-relation-ended", any session of it cut',
          );
        } finally {
          await handBack();
        }
      }
    }

    ctx.print(`    … waiting for Dan's grant to expire at ${expiresAt.toISOString()}`);
    let final: RequestView | undefined;
    // Asking before the end would only spend Dan's API allowance.
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt.getTime() - Date.now())));
    while (Date.now() < expiresAt.getTime() + 10_000) {
      const seen = await call<RequestView>(ctx, dan, 'GET', `/v1/requests/${id}`);
      if (seen.body.status !== 'active') {
        final = seen.body;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(final?.status === 'expired', `the grant is ${final?.status ?? 'still active'} after its end`);
    const lateMs = new Date(final!.endedAt ?? '').getTime() - expiresAt.getTime();
    expect(lateMs >= 0 && lateMs < 1000, `the grant ended ${lateMs} ms after expires_at`);
    ok(`Dan's grant expired by itself ${lateMs} ms after its end time`);
    if (gateway) for (const line of await gateway.afterGrant()) ok(line);

    const audited = await ctx.db
      .selectFrom('audit_events')
      .select(['action'])
      .where('request_id', '=', id)
      .orderBy('seq')
      .execute();
    const actions = audited.map((a) => a.action);
    expect(actions.length >= 3, `only ${actions.length} audit events for the request`);
    ok(`Every step is in the audit log: ${actions.join(' → ')}`);

    await auditorSteps(ctx, ok, id, gateway !== undefined);
    ctx.print('Demo script: every step behaved.');
    return true;
  } catch (err) {
    ctx.print(`  ✘ ${step + 1}. ${err instanceof Error ? err.message : String(err)}`);
    ctx.print('Demo script FAILED.');
    return false;
  }
}

/**
 * Priya, the privacy officer (an auditor), checks the log as an auditor would: the public key, a verification of
 * the whole log, an inclusion proof of Dan's grant checked here against that key, and the accounting of
 * disclosures for one of the synthetic patients.
 */
async function auditorSteps(
  ctx: DemoContext,
  ok: (text: string) => void,
  requestId: string,
  withGateway: boolean,
): Promise<void> {
  const priya = await ctx.mintToken('priya');
  const keyAnswer = await fetch(new URL('/v1/audit/public-key', ctx.apiUrl), {
    headers: { authorization: `Bearer ${priya}` },
  });
  expect(keyAnswer.ok, `GET /v1/audit/public-key answered ${keyAnswer.status}`);
  const publicKey = loadVerifyingKey(await keyAnswer.text());

  const verified = await call<{ ok: boolean; size: number; checkpointsVerified: number }>(
    ctx,
    priya,
    'GET',
    '/v1/audit/verify',
  );
  expect(verified.status === 200 && verified.body.ok, `audit verification answered ${verified.status}`);
  ok(
    `Priya (privacy office) verifies the audit log: ${verified.body.size} events re-hashed, ` +
      `${verified.body.checkpointsVerified} signed checkpoint(s) match`,
  );

  const grant = await ctx.db
    .selectFrom('audit_events')
    .select(['seq'])
    .where('request_id', '=', requestId)
    .where('action', '=', 'grant.activate')
    .executeTakeFirstOrThrow();
  const proof = await call<InclusionProofView>(ctx, priya, 'GET', `/v1/audit/proof/${grant.seq}`);
  expect(proof.status === 200, `the proof answered ${proof.status} ${proof.body.code ?? ''}`);
  const check = checkInclusionProof(proof.body, publicKey);
  expect(check.ok, `the proof does not hold: ${check.problems.join('; ')}`);
  ok(
    `She proves Dan's grant (event ${grant.seq}) is in the signed log of ${proof.body.treeSize} events ` +
      `with ${proof.body.auditPath.length} hashes and the public key alone`,
  );

  const report = await call<{
    entries: { seq: number; who: string; action: string; what?: string }[];
    unattributed: { seq: number; who: string; action: string; what?: string }[];
    accessGranted: { seq: number; who: string; action: string; what?: string }[];
    patientToken: string;
  }>(ctx, priya, 'POST', '/v1/audit/disclosures', { patient: SYNTHETIC_PATIENTS[0], format: 'json' });
  expect(report.status === 200, `the disclosures report answered ${report.status}`);
  expect(
    report.body.accessGranted.some((e) => e.seq === grant.seq),
    "the disclosures report does not list Dan's grant",
  );
  const statements = [...report.body.entries, ...report.body.unattributed];
  if (withGateway) {
    expect(
      statements.some((e) => e.what?.includes('from encounters') === true),
      "the disclosures report does not list Dan's statements through the gateway",
    );
  }
  ok(
    `Accounting of disclosures for ${SYNTHETIC_PATIENTS[0]}: ${statements.length} statement(s) Dan ran through ` +
      `the gateway (${report.body.entries.length} naming the patient in their rows), ` +
      `${report.body.accessGranted.length} grant/session(s) — found by ` +
      `token ${report.body.patientToken} (the log never holds the patient id)`,
  );
}
