import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditRecord, PatientToken, StoredAuditEvent } from '../event.js';
import { CSV_HEADER, csvRow } from './csv.js';
import { disclosureReport, renderDisclosures } from './disclosures-report.js';
import { toFhirAuditEvent } from './fhir-audit-event.js';

const HOSTILE = 'ok\r\nFAKE,"line"\u001b[31m red\u009b2J </td><script>alert(1)</script> \u202e';
const token = 'pt_AAAAAAAAAAAAAAAAAAAAAA' as PatientToken;

function event(seq: number, record: Partial<AuditRecord>): StoredAuditEvent {
  const full: AuditRecord = {
    v: 1,
    recordedAt: '2026-11-22T10:00:00.000Z',
    action: 'grant.activate',
    outcome: 'success',
    who: { actor: 'https://idp.example#dan', issuer: 'https://idp.example', subject: 'dan', name: 'Dan' },
    ...record,
  };
  return { seq, record: full, canonical: JSON.stringify(full) };
}

const grant = event(7, {
  who: {
    actor: 'https://idp.example#dan',
    name: 'Dan',
    roles: ['analyst-encounters'],
    approvers: ['https://idp.example#carol'],
  },
  what: { resource: 'clinic-db', requestId: '6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f', patients: [token] },
  why: { purposeOfUse: 'HQUALIMP', justification: HOSTILE },
  how: { clientAddress: '10.0.0.9', policyVersion: 'abc' },
});
const breakGlass = event(8, {
  why: { purposeOfUse: 'ETREAT', justification: 'crash', emergency: true },
  what: { patients: [token] },
});
const statement = event(9, {
  action: 'statement.execute',
  what: {
    resource: 'clinic-db',
    tables: ['encounters'],
    patients: [token],
    statement: { fingerprint: 'select * from encounters where id = ?' },
  },
  why: { purposeOfUse: 'TREAT' },
});
const refused = event(10, {
  action: 'request.create',
  outcome: 'refused',
  reasonCode: 'duration.over-max',
  what: { patients: [token] },
});
const login = event(11, {
  action: 'auth.reject',
  outcome: 'refused',
  reasonCode: 'token.expired',
  who: { actor: 'anonymous' },
});

describe('FHIR R4 AuditEvent', () => {
  it('maps a grant: type, subtype, action, outcome, purpose, agents, entities', () => {
    const f = toFhirAuditEvent(grant, { observer: 'phigate-audit' });
    assert.equal(f.resourceType, 'AuditEvent');
    assert.equal(f.id, 'phigate-7');
    assert.deepEqual(f.type, {
      system: 'http://dicom.nema.org/resources/ontology/DCM',
      code: '110110',
      display: 'Patient Record',
    });
    assert.equal(f.subtype[0]!.code, 'grant.activate');
    assert.equal(f.action, 'U');
    assert.equal(f.recorded, '2026-11-22T10:00:00.000Z');
    assert.equal(f.outcome, '0');
    assert.equal(f.purposeOfEvent![0]!.coding[0]!.code, 'HQUALIMP');
    assert.equal(f.agent.length, 2, 'the grantee and the approver');
    assert.equal((f.agent[0] as { requestor: boolean }).requestor, true);
    assert.deepEqual((f.agent[0] as { network: unknown }).network, { address: '10.0.0.9', type: '2' });
    const patient = f.entity!.find((e) => (e['role'] as { code?: string } | undefined)?.code === '1')!;
    assert.deepEqual((patient['what'] as { identifier: unknown }).identifier, {
      system: 'https://phigate.dev/fhir/NamingSystem/patient-token',
      value: token,
    });
    assert.equal(f.source.observer.display, 'phigate-audit');
    assert.equal(
      (JSON.parse(JSON.stringify(f)) as { entity: { description?: string }[] }).entity[0]!.description,
      HOSTILE,
      'hostile text survives as data',
    );
  });

  it('marks break-glass as an emergency override, refusals as minor failures, statements as queries', () => {
    const bg = toFhirAuditEvent(breakGlass, { observer: 'x' });
    assert.ok(bg.subtype.some((c) => c.code === '110127' && c.display === 'Emergency Override Started'));
    assert.equal(bg.type.code, '110113');
    const stopped = toFhirAuditEvent(event(12, { action: 'grant.expire', why: { emergency: true } }), {
      observer: 'x',
    });
    assert.ok(stopped.subtype.some((c) => c.code === '110138'));
    const r = toFhirAuditEvent(refused, { observer: 'x' });
    assert.equal(r.outcome, '4');
    assert.equal(r.outcomeDesc, 'duration.over-max');
    assert.equal(r.action, 'C');
    const s = toFhirAuditEvent(statement, { observer: 'x' });
    assert.equal(s.action, 'E');
    const query = s.entity!.find((e) => 'query' in e)!;
    assert.equal(
      Buffer.from(query['query'] as string, 'base64').toString(),
      'select * from encounters where id = ?',
    );
    assert.equal(toFhirAuditEvent(login, { observer: 'x' }).type.code, '110114');
  });
});

describe('CSV', () => {
  it('writes one CRLF-terminated line per event whatever the event holds (ATTACKS 38)', () => {
    const text = CSV_HEADER + [grant, breakGlass, statement, refused, login].map(csvRow).join('');
    const lines = text.split('\r\n').filter((l) => l !== '');
    assert.equal(lines.length, 6);
    // eslint-disable-next-line no-control-regex -- asserting their absence
    assert.ok(!/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202e]/.test(text.replaceAll('\r\n', '')));
    assert.ok(!text.replaceAll('\r\n', '').includes('\n'));
    assert.ok(lines[1]!.includes('"ok\\r\\nFAKE,""line""\\u001b[31m red\\u009b2J'), lines[1]);
  });

  it('neutralises spreadsheet formulas', () => {
    const row = csvRow(event(1, { why: { justification: "=cmd|' /C calc'!A0" } }));
    assert.ok(row.includes(`'=cmd|' /C calc'!A0`));
  });
});

describe('accounting of disclosures', () => {
  const other = 'pt_BBBBBBBBBBBBBBBBBBBBBB';
  /** A `statement.complete` record of a session: `scoped` grants carry their patients on it. */
  const completion = (
    seq: number,
    o: { scoped?: PatientToken[]; unattributed?: true; session?: string; why?: AuditRecord['why'] },
    results: Record<string, unknown>[],
  ) =>
    event(seq, {
      action: 'statement.complete',
      what: {
        resource: 'clinic-db',
        requestId: '6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f',
        patients: o.scoped,
        ...(o.unattributed ? { unattributed: true as const } : {}),
      },
      why: o.why ?? { purposeOfUse: 'TREAT' },
      how: { sessionId: o.session ?? 's-1' },
      detail: { ...(o.scoped ? { patientScope: true } : {}), results },
    });
  const disclosing = (
    statementId: number,
    fingerprint: string,
    disclosure: Record<string, unknown>,
    more: Record<string, unknown> = {},
  ) => ({ statementId, outcome: 'success', returned: 1, fingerprint, disclosure, ...more });
  const input = {
    patientLabel: 'MRN-0042',
    patientToken: token,
    origin: 'phigate-audit',
    events: [
      grant,
      breakGlass,
      statement,
      refused,
      completion(12, { why: { purposeOfUse: 'ETREAT', justification: HOSTILE, emergency: true } }, [
        disclosing(1, 'select mrn from patients', { tables: ['public.patients'], patients: [token] }),
      ]),
    ],
    truncated: false,
    generatedAt: new Date('2026-11-22T12:00:00Z'),
  };

  it('lists statements that disclosed, access granted apart, and counts refused attempts', () => {
    const report = disclosureReport(input);
    assert.deepEqual(
      report.entries.map((e) => [e.seq, e.what, e.basis]),
      [[12, 'select mrn from patients', 'result']],
    );
    assert.deepEqual(
      report.accessGranted.map((e) => [e.seq, e.action]),
      [
        [7, 'grant.activate'],
        [8, 'grant.activate'],
      ],
      'a statement.execute record is the statement sent, not a disclosure',
    );
    assert.equal(report.summary.refusedAttempts, 1);
    assert.equal(report.accessGranted[0]!.purpose, 'quality improvement');
    assert.equal(report.entries[0]!.emergency, true);
    assert.deepEqual(report.entries[0]!.tables, ['public.patients']);
  });

  it('renders text and HTML with every hostile value escaped, one table row per entry', () => {
    const text = renderDisclosures('text', input).body;
    // eslint-disable-next-line no-control-regex -- asserting their absence
    assert.ok(!/[\r\u001b\u009b\u202e]/.test(text));
    assert.ok(text.includes('EMERGENCY ACCESS'));
    assert.ok(text.includes('read from the rows returned'));
    const html = renderDisclosures('html', input);
    assert.equal(html.contentType, 'text/html; charset=utf-8');
    assert.ok(!html.body.includes('<script>'));
    assert.ok(html.body.includes('&lt;/td&gt;&lt;script&gt;'));
    assert.equal(
      html.body.match(/<tr[ >]/g)!.length,
      5,
      'a header row and one entry; a header row and two grants',
    );
    assert.match(html.body, /Content-Security-Policy/);
    const json = JSON.parse(renderDisclosures('json', input).body) as { entries: unknown[]; patient: string };
    assert.equal(json.entries.length, 1);
    assert.equal(json.patient, 'MRN-0042');
  });

  it('lists a statement execution once: its portal’s Executes, and not statements that disclosed nothing', () => {
    const report = disclosureReport({
      ...input,
      events: [
        completion(30, {}, [
          disclosing(1, 'select mrn from patients', {
            tables: ['public.patients'],
            patients: [token, other],
          }),
          // The same portal fetched again (run 1): one execution.
          disclosing(
            2,
            'select mrn from patients',
            { tables: ['public.patients'], patients: [token] },
            { run: 1 },
          ),
          disclosing(3, 'select mrn from patients where zip = ?', {
            tables: ['public.patients'],
            patients: [other],
          }),
          // Read no PHI, or returned nothing: recorded without a disclosure.
          { statementId: 4, outcome: 'success', rows: 1 },
        ]),
        // The same statement id in another session is another statement.
        completion(31, { session: 's-2' }, [
          disclosing(1, 'select mrn from patients', { tables: ['public.patients'], patients: [token] }),
        ]),
      ],
    });
    assert.deepEqual(
      report.entries.map((e) => [e.seq, e.sessionId, e.statementId]),
      [
        [30, 's-1', 1],
        [31, 's-2', 1],
      ],
    );
  });

  it('lists unkeyed statements apart, with why: a scoped grant’s for its patients, one without patients’ for all', () => {
    const report = disclosureReport({
      ...input,
      events: [
        completion(40, { scoped: [token, other as PatientToken] }, [
          disclosing(1, 'select count(*) from encounters', {
            tables: ['public.encounters'],
            unattributed: 'no-key',
          }),
          // Keyed, and the rows were the other patient's only.
          disclosing(2, 'select mrn from patients where id = ?', {
            tables: ['public.patients'],
            patients: [other],
          }),
        ]),
        // A scoped grant of other patients: its unkeyed statements are not this patient's.
        completion(41, { scoped: [other as PatientToken] }, [
          disclosing(1, 'select count(*) from encounters', {
            tables: ['public.encounters'],
            unattributed: 'no-key',
          }),
        ]),
        completion(42, { unattributed: true, session: 's-3' }, [
          disclosing(5, 'copy patients to stdout', { tables: ['public.patients'], unattributed: 'copy' }),
        ]),
      ],
    });
    assert.deepEqual(report.entries, [], 'nothing here was read from a result naming the patient');
    assert.deepEqual(
      report.unattributed.map((e) => [e.seq, e.statementId, e.basis, e.reasonCode]),
      [
        [40, 1, 'grant-scope', 'no-key'],
        [42, 5, 'unattributed', 'copy'],
      ],
    );
    assert.match(report.unattributed[1]!.reason!, /COPY output/);
    const text = renderDisclosures('text', { ...input, events: [...input.events] }).body;
    assert.match(text, /could not be attributed/);
  });

  it('names approvers by their display names, and by their account when no name was recorded', () => {
    const named = event(13, {
      who: {
        actor: 'https://idp.example#dan',
        name: 'Dan',
        approvers: ['https://idp.example#carol', 'https://idp.example#chris'],
        approverNames: ['Carol Lead', 'Chris Lead'],
      },
      what: { resource: 'clinic-db', requestId: '7f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f', patients: [token] },
    });
    const both = { ...input, events: [grant, named] };
    const report = disclosureReport(both);
    assert.deepEqual(
      report.accessGranted.map((e) => e.approvedBy),
      [['https://idp.example#carol'], ['Carol Lead', 'Chris Lead']],
    );
    const text = renderDisclosures('text', both).body;
    assert.match(text, /approved by: Carol Lead, Chris Lead\n/);
    const html = renderDisclosures('html', both).body;
    assert.match(html, /Carol Lead<br><small>https:\/\/idp\.example#carol<\/small>/);
  });

  it('says so when there is nothing to account for', () => {
    const empty = { ...input, events: [] };
    assert.match(renderDisclosures('text', empty).body, /No disclosures in this period/);
    assert.match(renderDisclosures('html', empty).body, /No disclosures in this period/);
  });
});
