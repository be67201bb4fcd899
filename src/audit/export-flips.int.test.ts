/**
 * Issue 15, item 3: an export covers everything it carries. A small archive made by the server is checked with every
 * single byte flipped, one at a time (two ways): no flip may verify — not in the header's keys, not in a checkpoint
 * line's key id, not in the export's own `audit.export` record, which a checkpoint signed before the snapshot covers.
 */
import assert from 'node:assert/strict';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { sampleEvent, testAuditService } from '../../test/support/audit.js';
import { person } from '../../test/support/helpers.js';
import { verifyJsonlExport } from './export-jsonl.js';

const priya = person('priya', ['privacy-office']);

/** Read as `phigate audit verify --file` reads: readline over the bytes. */
function linesOf(bytes: Buffer): AsyncIterable<string> {
  return createInterface({ input: Readable.from([bytes]), crlfDelay: Infinity });
}

describe('issue 15: exports cover all they carry', () => {
  let db: TestDatabase;
  let audit: ReturnType<typeof testAuditService>;
  let archive: Buffer;
  const check = (bytes: Buffer) =>
    verifyJsonlExport(linesOf(bytes), { trustedKeys: [audit.publicKey], threads: 0 });

  before(async () => {
    db = await createTestDatabase();
    audit = testAuditService(db.db);
    await audit.writer.append([sampleEvent(audit, 1, ['MRN-1'])]);
    // Text the exporter writes as escapes (bidi override), so that the flips reach the inert form too.
    await audit.writer.append([
      { ...sampleEvent(audit, 2), why: { purposeOfUse: 'TREAT', justification: 'a \u202eb\u2066c' } },
    ]);
    await audit.signCheckpoint(priya);
    let text = '';
    for await (const chunk of await audit.exportLines(priya, 'jsonl')) text += chunk;
    archive = Buffer.from(text, 'utf8');
  });
  after(async () => {
    await audit.stop();
    await db.drop();
  });

  it('the intact archive verifies, and its own audit.export record is its last event, under a signature', async () => {
    const report = await check(archive);
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    const lines = archive.toString('utf8').trim().split('\n');
    const events = lines.filter((l) => l.startsWith('{"seq":'));
    assert.match(events.at(-1)!, /"action":"audit\.export"/);
    assert.match(events[0]!, /^\{"seq":1,"leaf":"[A-Za-z0-9+/]{43}=","event":/, 'stored leaves are carried');
    assert.equal(report.signedSize, report.size, 'no event the file carries is unsigned');
    assert.match(lines[0]!, /"headerSignature":"/);
  });

  it('every single byte flipped, one at a time, fails verification', async () => {
    const undetected: string[] = [];
    for (const mask of [0x01, 0x20]) {
      for (let i = 0; i < archive.length; i++) {
        const flipped = Buffer.from(archive);
        flipped[i] = flipped[i]! ^ mask;
        let ok: boolean;
        try {
          ok = (await check(flipped)).ok;
        } catch {
          ok = false; // not even readable as an archive: refused
        }
        if (ok)
          undetected.push(
            `byte ${i} ^ ${mask}: ${JSON.stringify(archive.subarray(Math.max(0, i - 20), i + 20).toString())}`,
          );
      }
    }
    assert.ok(archive.length > 1000, `a real archive (${archive.length} bytes)`);
    assert.deepEqual(undetected, []);
  });

  it('an event altered in the store with its stored leaf kept is named by the export check too', async () => {
    await db.db.transaction().execute(async (tx) => {
      await sql`alter table audit_events disable trigger audit_events_no_update`.execute(tx);
      await sql`update audit_events set canonical = replace(canonical, 'TREAT', 'HPAYMT') where seq = 1`.execute(
        tx,
      );
      await sql`alter table audit_events enable always trigger audit_events_no_update`.execute(tx);
    });
    let text = '';
    for await (const chunk of await audit.exportLines(priya, 'jsonl')) text += chunk;
    const report = await check(Buffer.from(text, 'utf8'));
    assert.equal(report.ok, false);
    assert.equal(report.firstBadSeq, 1);
    assert.ok(report.problems.some((p) => p.code === 'event.altered' && p.seq === 1));
  });
});
