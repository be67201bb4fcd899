/**
 * phigate's events as FHIR R4 AuditEvent resources, so that a hospital's FHIR server or SIEM can take them in.
 *
 * Mapping choices (documented in docs/audit.md):
 * - type (DICOM): the action's own (audit/actions.ts: 110114 User Authentication for `auth.reject`), else 110113
 *   Security Alert for break-glass, 110110 Patient Record when the event names patients or a statement, the action's
 *   (110100 Application Activity) otherwise.
 * - subtype: the phigate action (`https://phigate.dev/fhir/CodeSystem/audit-action`); a break-glass activation adds
 *   DICOM 110127 Emergency Override Started, the end of an emergency grant 110138 Emergency Override Stopped.
 * - action: the registry's (audit/actions.ts): C for creations, R for reads, E for statements, U for every other
 *   change.
 * - outcome: 0 success, 4 refused (minor failure), 8 failure (serious); outcomeDesc is the reason code.
 * - entities: the access request, each patient (as its token, never the identifier), the statement (its fingerprint
 *   as `query`, base64), the resource.
 */
import { auditActionInfo, DICOM_EVENT_TYPES, type DicomEventType, type FhirAuditAction } from '../actions.js';
import type { StoredAuditEvent } from '../event.js';

interface Coding {
  readonly system: string;
  readonly code: string;
  readonly display?: string;
}

export interface FhirAuditEvent {
  readonly resourceType: 'AuditEvent';
  readonly id: string;
  readonly type: Coding;
  readonly subtype: readonly Coding[];
  readonly action: FhirAuditAction;
  readonly recorded: string;
  readonly outcome: '0' | '4' | '8' | '12';
  readonly outcomeDesc?: string;
  readonly purposeOfEvent?: readonly { coding: readonly Coding[] }[];
  readonly agent: readonly Record<string, unknown>[];
  readonly source: { observer: { display: string }; type: readonly Coding[] };
  readonly entity?: readonly Record<string, unknown>[];
}

const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const ACTION_SYSTEM = 'https://phigate.dev/fhir/CodeSystem/audit-action';
const PATIENT_TOKEN_SYSTEM = 'https://phigate.dev/fhir/NamingSystem/patient-token';
const REQUEST_SYSTEM = 'https://phigate.dev/fhir/NamingSystem/access-request';
const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';

const dicom = (code: DicomEventType): Coding => ({ system: DCM, code, display: DICOM_EVENT_TYPES[code] });

function typeOf(event: StoredAuditEvent): Coding {
  const r = event.record;
  // A name the registry does not know (a log written by another version) is exported as application activity.
  const own = auditActionInfo(r.action)?.fhirType ?? '110100';
  if (own !== '110100') return dicom(own);
  if (r.why?.emergency && r.action === 'grant.activate') return dicom('110113');
  if ((r.what?.patients?.length ?? 0) > 0 || r.what?.statement) return dicom('110110');
  return dicom(own);
}

function actionOf(action: string): FhirAuditAction {
  return auditActionInfo(action)?.fhirAction ?? 'U';
}

const OUTCOME = { success: '0', refused: '4', failure: '8' } as const;

export function toFhirAuditEvent(event: StoredAuditEvent, source: { observer: string }): FhirAuditEvent {
  const r = event.record;
  const subtype: Coding[] = [{ system: ACTION_SYSTEM, code: r.action }];
  if (r.why?.emergency && r.action === 'grant.activate') {
    subtype.push({ system: DCM, code: '110127', display: 'Emergency Override Started' });
  }
  if (r.why?.emergency && (r.action === 'grant.expire' || r.action === 'grant.revoke')) {
    subtype.push({ system: DCM, code: '110138', display: 'Emergency Override Stopped' });
  }
  const purpose = r.why?.purposeOfUse
    ? [
        {
          coding: [
            { system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: r.why.purposeOfUse },
          ],
        },
      ]
    : undefined;
  const agent: Record<string, unknown>[] = [
    {
      who: {
        identifier: {
          ...(r.who.issuer ? { system: r.who.issuer } : {}),
          value: r.who.subject ?? r.who.actor,
        },
        ...(r.who.name ? { display: r.who.name } : {}),
      },
      altId: r.who.actor,
      ...(r.who.name ? { name: r.who.name } : {}),
      requestor: true,
      ...(r.who.roles?.length ? { role: r.who.roles.map((role) => ({ text: role })) } : {}),
      ...(r.how?.policyVersion ? { policy: [`urn:phigate:policy:${r.how.policyVersion}`] } : {}),
      ...(r.how?.clientAddress ? { network: { address: r.how.clientAddress, type: '2' } } : {}),
      ...(purpose ? { purposeOfUse: purpose } : {}),
    },
    ...(r.who.approvers ?? []).map((approver) => ({
      who: { identifier: { value: approver } },
      altId: approver,
      requestor: false,
      type: { coding: [{ system: 'https://phigate.dev/fhir/CodeSystem/agent-role', code: 'approver' }] },
    })),
  ];
  const entity: Record<string, unknown>[] = [];
  if (r.what?.requestId) {
    entity.push({
      what: { identifier: { system: REQUEST_SYSTEM, value: r.what.requestId } },
      type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
      ...(r.why?.justification ? { description: r.why.justification } : {}),
    });
  }
  for (const token of r.what?.patients ?? []) {
    entity.push({
      what: { identifier: { system: PATIENT_TOKEN_SYSTEM, value: token } },
      type: { system: ENTITY_TYPE, code: '1', display: 'Person' },
      role: { system: OBJECT_ROLE, code: '1', display: 'Patient' },
    });
  }
  if (r.what?.statement) {
    entity.push({
      type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
      role: { system: OBJECT_ROLE, code: '24', display: 'Query' },
      query: Buffer.from(r.what.statement.fingerprint, 'utf8').toString('base64'),
      detail: [
        ...(r.what.tables ?? []).map((t) => ({ type: 'table', valueString: t })),
        ...(r.what.columns ?? []).map((c) => ({ type: 'column', valueString: c })),
      ],
    });
  }
  if (r.what?.resource)
    entity.push({
      name: r.what.resource,
      type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
    });
  return {
    resourceType: 'AuditEvent',
    id: `phigate-${event.seq}`,
    type: typeOf(event),
    subtype,
    action: actionOf(r.action),
    recorded: r.recordedAt,
    outcome: OUTCOME[r.outcome],
    ...(r.reasonCode ? { outcomeDesc: r.reasonCode } : {}),
    ...(purpose ? { purposeOfEvent: purpose } : {}),
    agent,
    source: {
      observer: { display: source.observer },
      type: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/security-source-type',
          code: '4',
          display: 'Application Server',
        },
      ],
    },
    ...(entity.length > 0 ? { entity } : {}),
  };
}
