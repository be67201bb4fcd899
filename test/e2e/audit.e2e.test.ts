/**
 * The auditor's story, through the real CLI against a real server: a grant on a patient happens; the privacy office
 * keeps the public key, verifies the log, proves an event, exports it (and verifies the export offline), and prints
 * the patient's accounting of disclosures. Then someone with the database owner's powers alters an event, and both
 * the server-side verification and the offline check of an altered export name it. Non-auditors are refused.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { demoPolicy } from '../../src/demo/demo.js';
import type { RunningPhigate } from '../../src/server/start.js';
import { runCli } from '../support/cli.js';
import { startTestPhigate, type TestPhigate } from '../support/phigate.js';

const PATIENT = 'MRN-DEMO-0042';
/** A justification that tries to forge log lines, colour a terminal and read backwards (ATTACKS 16, 38). */
const HOSTILE = 'Readmission review\r\n\u001b[31mFAKE LOG LINE \u202eevil\u2066isolate';
/** Bidirectional controls and C1 controls: no export may carry one raw. */
const RAW_ACTIVE = /[\u0080-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

describe('phigate audit (CLI)', () => {
  let server: TestPhigate;
  let phigate: RunningPhigate;
  let dir: string;
  const tokens = new Map<string, string>();
  const cli = async (user: string, ...args: string[]) => {
    if (!tokens.has(user)) tokens.set(user, await phigate.mintDevToken!(user));
    return runCli(args, { PHIGATE_API_URL: phigate.url, PHIGATE_TOKEN: tokens.get(user)! });
  };
  const file = (name: string) => path.join(dir, name);

  before(async () => {
    // A witness file next to the server: every checkpoint is also published there.
    server = await startTestPhigate({
      policy: demoPolicy(),
      config: 'audit:\n  origin: e2e-audit\n  witness:\n    files: [witness.log]\n',
    });
    phigate = server.phigate;
    dir = server.dir;
    const request = await cli(
      'dan',
      '--json',
      'request',
      '--resource',
      'clinic-db',
      '--role',
      'analyst-encounters',
      '--duration',
      '20m',
      '--purpose',
      'HQUALIMP',
      '--justification',
      HOSTILE,
      '--patient',
      PATIENT,
    );
    assert.equal(request.code, 0, request.stderr);
    const id = (JSON.parse(request.stdout) as { id: string }).id;
    const approve = await cli('carol', 'approve', id, '--comment', 'ok');
    assert.equal(approve.code, 0, approve.stderr);
  });
  after(() => server.stop());

  it('keeps the public key, verifies the log and proves an event against the kept key', async () => {
    const key = await cli('priya', 'audit', 'public-key', '--out', file('audit.pub'));
    assert.equal(key.code, 0, key.stderr);
    assert.match(readFileSync(file('audit.pub'), 'utf8'), /BEGIN PUBLIC KEY/);
    const verify = await cli('priya', 'audit', 'verify');
    assert.equal(verify.code, 0, verify.stderr);
    assert.match(verify.stdout, /^ok: \d+ events verified/);
    assert.match(verify.stdout, /sources: store, file:.*witness\.log/);

    const tail = await cli('priya', '--json', 'audit', 'tail', '-n', '50', '--action', 'grant.activate');
    assert.equal(tail.code, 0, tail.stderr);
    const activation = tail.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { seq: number; record: { who: { actor: string; approvers: string[] } } })
      .at(-1)!;
    assert.match(activation.record.who.actor, /#dan$/);
    assert.ok(activation.record.who.approvers.some((a) => a.endsWith('#carol')));

    const proof = await cli(
      'priya',
      'audit',
      'proof',
      String(activation.seq),
      '--public-key',
      file('audit.pub'),
      '--out',
      file('proof.json'),
    );
    assert.equal(proof.code, 0, proof.stderr);
    assert.match(proof.stdout, new RegExp(`^ok: event ${activation.seq} is leaf ${activation.seq - 1}`));
    const offline = await cli(
      'priya',
      'audit',
      'verify',
      '--proof',
      file('proof.json'),
      '--public-key',
      file('audit.pub'),
    );
    assert.equal(offline.code, 0, offline.stderr);

    // A proof edited after the fact does not hold.
    const edited = JSON.parse(readFileSync(file('proof.json'), 'utf8')) as { event: string };
    edited.event = edited.event.replace('analyst-encounters', 'physician-chart-review');
    writeFileSync(file('proof-edited.json'), JSON.stringify(edited));
    const bad = await cli(
      'priya',
      'audit',
      'verify',
      '--proof',
      file('proof-edited.json'),
      '--public-key',
      file('audit.pub'),
    );
    assert.equal(bad.code, 10, bad.stdout);
  });

  it('exports the log in three formats; the archive verifies offline, and an altered copy names the event', async () => {
    const jsonl = await cli('priya', 'audit', 'export', '--format', 'jsonl', '--out', file('log.jsonl'));
    assert.equal(jsonl.code, 0, jsonl.stderr);
    const offline = await cli(
      'priya',
      'audit',
      'verify',
      '--file',
      file('log.jsonl'),
      '--public-key',
      file('audit.pub'),
      '--witness',
      file('witness.log'),
    );
    assert.equal(offline.code, 0, offline.stdout + offline.stderr);
    assert.match(offline.stdout, /sources: file:.*witness\.log, export/);
    // The archive verified although its justification's bidi controls are written as escapes.
    const archive = readFileSync(file('log.jsonl'), 'utf8');
    assert.ok(!RAW_ACTIVE.test(archive), 'no raw bidi control in the archive');
    assert.ok(archive.includes('FAKE LOG LINE \\u202eevil\\u2066isolate'));

    const lines = archive.split('\n');
    const victim = lines.findIndex((l) => l.includes('"action":"request.approve"'));
    const seq = Number(/^\{"seq":(\d+)/.exec(lines[victim]!)![1]);
    lines[victim] = lines[victim]!.replace('"outcome":"success"', '"outcome":"refused"');
    writeFileSync(file('log-altered.jsonl'), lines.join('\n'));
    const altered = await cli(
      'priya',
      'audit',
      'verify',
      '--file',
      file('log-altered.jsonl'),
      '--public-key',
      file('audit.pub'),
    );
    assert.equal(altered.code, 10);
    assert.match(altered.stdout, new RegExp(`^FAILED: event ${seq} is altered`, 'm'));
    assert.match(altered.stdout, new RegExp(`event\\.altered @${seq}`));

    const fhir = await cli('priya', 'audit', 'export', '--format', 'fhir');
    assert.equal(fhir.code, 0, fhir.stderr);
    assert.ok(!RAW_ACTIVE.test(fhir.stdout), 'no raw bidi control in the FHIR export');
    assert.ok(!fhir.stdout.includes('\u001b'));
    const resources = fhir.stdout
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as { resourceType: string; recorded: string; entity?: { description?: string }[] },
      );
    assert.ok(resources.length > 3 && resources.every((r) => r.resourceType === 'AuditEvent' && r.recorded));
    assert.ok(
      resources.some((r) => r.entity?.some((e) => e.description === HOSTILE)),
      'the justification is the same data once parsed',
    );

    const csv = await cli('priya', 'audit', 'export', '--format', 'csv');
    assert.equal(csv.code, 0, csv.stderr);
    const rows = csv.stdout.split('\r\n').filter((l) => l !== '');
    // Header + one line per event (the FHIR export above added its own audit.export event): the CR/LF in the
    // justification forged no line (ATTACKS 38).
    assert.equal(rows.length, 1 + resources.length + 1);
    assert.ok(
      rows.some((r) =>
        r.includes('Readmission review\\r\\n\\u001b[31mFAKE LOG LINE \\u202eevil\\u2066isolate'),
      ),
    );
    assert.ok(!csv.stdout.includes('\u001b'), 'no raw escape reaches the CSV');
    assert.ok(!RAW_ACTIVE.test(csv.stdout), 'no raw bidi control in the CSV');
  });

  it("prints the patient's accounting of disclosures, and never stores the identifier", async () => {
    const text = await cli('priya', 'audit', 'disclosures', '--patient', PATIENT);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /dan/);
    assert.ok(!text.stdout.includes('\u001b'), 'justification escapes are neutralised (ATTACKS 38)');
    assert.ok(!RAW_ACTIVE.test(text.stdout));
    const json = await cli('priya', 'audit', 'disclosures', '--patient', PATIENT, '--format', 'json');
    assert.equal(json.code, 0, json.stderr);
    assert.ok(!RAW_ACTIVE.test(json.stdout), 'no raw bidi control in the JSON report');
    assert.ok(json.stdout.includes('\\u202eevil'), json.stdout);
    const html = await cli(
      'priya',
      'audit',
      'disclosures',
      '--patient',
      PATIENT,
      '--format',
      'html',
      '--out',
      file('r.html'),
    );
    assert.equal(html.code, 0, html.stderr);
    assert.match(readFileSync(file('r.html'), 'utf8'), /<!DOCTYPE html>/i);
    const tail = await cli('priya', '--json', 'audit', 'tail', '--patient', PATIENT, '-n', '100');
    assert.equal(tail.code, 0, tail.stderr);
    const about = tail.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { record: { action: string } });
    assert.ok(about.some((e) => e.record.action === 'grant.activate'));
    assert.ok(about.every((e) => JSON.stringify(e).includes('pt_')));
    const none = await cli(
      'priya',
      '--json',
      'audit',
      'disclosures',
      '--patient',
      'MRN-NOBODY',
      '--format',
      'json',
    );
    assert.equal(none.code, 0, none.stderr);

    const stored = await sql<{ n: number }>`
      select count(*)::int as n from audit_events where canonical like ${`%${PATIENT}%`}`.execute(
      phigate.store.db,
    );
    assert.equal(stored.rows[0]!.n, 0, 'the patient id appears nowhere in the log');
  });

  it('refuses non-auditors, and names the first altered event after tampering', async () => {
    const refused = await cli('dan', 'audit', 'verify');
    assert.equal(refused.code, 4, refused.stderr);

    const target = await sql<{ seq: number }>`
      select seq from audit_events where action = 'request.create' order by seq limit 1`.execute(
      phigate.store.db,
    );
    const seq = Number(target.rows[0]!.seq);
    await phigate.store.db.transaction().execute(async (tx) => {
      await sql`alter table audit_events disable trigger audit_events_no_update`.execute(tx);
      await sql`update audit_events set canonical = replace(canonical, 'HQUALIMP', 'TREAT') where seq = ${seq}`.execute(
        tx,
      );
      await sql`alter table audit_events enable always trigger audit_events_no_update`.execute(tx);
    });
    const verify = await cli('priya', 'audit', 'verify');
    assert.equal(verify.code, 10, verify.stdout + verify.stderr);
    assert.match(verify.stdout, new RegExp(`^FAILED: event ${seq} is altered`, 'm'));
    await phigate.store.db.transaction().execute(async (tx) => {
      await sql`alter table audit_events disable trigger audit_events_no_update`.execute(tx);
      await sql`update audit_events set canonical = replace(canonical, 'TREAT', 'HQUALIMP') where seq = ${seq}`.execute(
        tx,
      );
      await sql`alter table audit_events enable always trigger audit_events_no_update`.execute(tx);
    });
  });

  it('--public-key against the server checks its checkpoints with the key given (issue 15)', async () => {
    const other = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    writeFileSync(file('other.pub'), other);
    const wrong = await cli('priya', 'audit', 'verify', '--public-key', file('other.pub'));
    assert.equal(wrong.code, 10, wrong.stdout + wrong.stderr);
    assert.match(
      wrong.stdout,
      /checkpoint\.bad-signature: the server's checkpoint of size \d+ .* does not verify/,
    );
    const kept = await cli('priya', 'audit', 'verify', '--public-key', file('audit.pub'));
    assert.equal(kept.code, 0, kept.stdout + kept.stderr);
  });

  it('a disabled append-only trigger is reported by verify (issue 15)', async () => {
    await sql`alter table audit_events disable trigger audit_events_no_update`.execute(phigate.store.db);
    try {
      const verify = await cli('priya', 'audit', 'verify');
      assert.equal(verify.code, 10, verify.stdout + verify.stderr);
      assert.match(verify.stdout, /store\.trigger-disabled: the append-only trigger audit_events_no_update/);
    } finally {
      await sql`alter table audit_events enable always trigger audit_events_no_update`.execute(
        phigate.store.db,
      );
    }
  });

  it('after the tail was deleted, `audit checkpoint` answers audit.damaged, not an internal error (issue 15)', async () => {
    const last = await sql<{ n: number }>`select max(seq)::int as n from audit_events`.execute(
      phigate.store.db,
    );
    await phigate.store.db.transaction().execute(async (tx) => {
      await sql`alter table audit_events disable trigger audit_events_no_update`.execute(tx);
      await sql`delete from audit_events where seq > ${last.rows[0]!.n - 2}`.execute(tx);
      await sql`update audit_head set last_seq = ${last.rows[0]!.n - 2}`.execute(tx);
      await sql`alter table audit_events enable always trigger audit_events_no_update`.execute(tx);
    });
    const checkpoint = await cli('priya', 'audit', 'checkpoint');
    assert.equal(checkpoint.code, 7, checkpoint.stdout + checkpoint.stderr);
    assert.match(checkpoint.stderr, /audit\.damaged|differs from what was appended/);
    assert.doesNotMatch(checkpoint.stderr, /internal/);
  });
});
