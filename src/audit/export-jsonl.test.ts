import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { inertJson } from '../lib/inert-json.js';
import { publicKeyId, signCheckpoint } from './checkpoint.js';
import { EXPORT_FORMAT, verifyJsonlExport } from './export-jsonl.js';
import { leafHash, rootHash } from './merkle.js';

const key = generateKeyPairSync('ed25519');
// Canonical bytes as recorded: CR/LF escaped by JSON itself, a bidi override and isolate raw (JSON allows them).
const events = Array.from(
  { length: 12 },
  (_, i) => `{"action":"x","n":${i},"text":"line\\r\\nFAKE \u202eevil\u2066 \\\\u202e"}`,
);
const leaves = events.map((e) => leafHash(Buffer.from(e)));

function exportLines(options: { size?: number; drop?: number; trailer?: number | null } = {}): string[] {
  const size = options.size ?? events.length;
  const c = signCheckpoint(
    { origin: 'log', size: BigInt(size), rootHash: rootHash(leaves, 0, size), time: new Date(0) },
    key.privateKey,
  );
  const lines = [
    JSON.stringify({
      format: EXPORT_FORMAT,
      origin: 'log',
      exportedAt: new Date(0).toISOString(),
      publicKeys: [],
    }),
    JSON.stringify({
      checkpoint: { body: c.body, keyId: publicKeyId(key.publicKey), signature: c.signature },
    }),
    // As the exporter writes them: bidi controls as escapes (inertJson), which the verifier must undo exactly.
    ...events.map((e, i) => `{"seq":${i + 1},"event":${inertJson(e)}}`).filter((_, i) => i !== options.drop),
  ];
  if (options.trailer !== null)
    lines.push(JSON.stringify({ end: { size: options.trailer ?? events.length } }));
  return lines;
}

async function* from(lines: string[]): AsyncGenerator<string> {
  yield* lines;
}

const verify = (lines: string[]) => verifyJsonlExport(from(lines), { trustedKeys: [key.publicKey] });

describe('export file verification', () => {
  it('verifies an intact export with only the public key', async () => {
    const lines = exportLines();
    assert.ok(!/[\u202e\u2066]/.test(lines.join('\n')), 'no raw bidi control in the file');
    const report = await verify(lines);
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.equal(report.size, 12);
    assert.equal(report.checkpointsVerified, 1);
  });

  it('names the event missing from a file, a file cut short, and a trailer that disagrees', async () => {
    assert.equal((await verify(exportLines({ drop: 4 }))).firstBadSeq, 5);
    const cut = await verify(exportLines({ trailer: null }).slice(0, -3));
    assert.ok(cut.problems.some((p) => p.code === 'export.truncated'));
    assert.ok(cut.problems.some((p) => p.code === 'log.truncated'));
    assert.equal(cut.firstBadSeq, 10);
    assert.ok(
      (await verify(exportLines({ trailer: 99 }))).problems.some((p) => p.code === 'export.truncated'),
    );
  });

  it('verifies events whose bidi controls are written raw, as exports made before they were escaped', async () => {
    const legacy = exportLines().map((l, i) =>
      l.startsWith('{"seq"') ? `{"seq":${i - 1},"event":${events[i - 2]}}` : l,
    );
    assert.ok(legacy.some((l) => l.includes('\u202e')));
    const report = await verify(legacy);
    assert.equal(report.ok, true, JSON.stringify(report.problems));
  });

  it('catches one changed byte in an event, a line that is not JSON, and content after the trailer', async () => {
    const lines = exportLines();
    lines[5] = lines[5]!.replace('"n":3', '"n":4');
    const changed = await verify(lines);
    assert.equal(changed.ok, false);
    assert.ok(changed.problems.some((p) => p.code === 'checkpoint.mismatch'));
    const junk = exportLines();
    junk.splice(3, 0, 'not json');
    assert.ok(
      (await verify(junk)).problems.some((p) => p.code === 'export.malformed' && /line 4/.test(p.message)),
    );
    assert.ok(
      (await verify([...exportLines(), '{"seq":13,"event":{}}'])).problems.some(
        (p) => p.code === 'export.after-end',
      ),
    );
  });

  it('refuses a file that is not an export at all', async () => {
    await assert.rejects(verify(['{"hello":1}']), /not a phigate-audit-export\/v1 file/);
    await assert.rejects(verify([]), /it is empty/);
  });
});
