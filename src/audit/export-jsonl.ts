/**
 * The archive format: everything needed to verify the log offline, in one JSON-lines file — a header, every signed
 * checkpoint, every event's canonical bytes, and a trailer. Events are written as `{"seq":N,"event":<bytes>}` with the
 * canonical text spliced in, so the verifier re-hashes exactly the bytes that were hashed when the event was recorded
 * (no re-encoding that could differ) — save one reversible change: characters a terminal or an editor would act on
 * (bidirectional overrides, C1 controls, line separators: lib/inert-json.ts) are written as `\uXXXX` escapes, so that
 * a justification cannot make the archive read differently than it is; the verifier turns them back into the
 * characters before hashing (canonical JSON never escapes them, so the reversal is exact). Written from one snapshot
 * (REPEATABLE READ), so checkpoints and events agree; phigate never deletes events, so an export is complete for the
 * six-year archive.
 *
 * Everything a file carries is covered (issue 15): it holds the events up to its latest signed checkpoint and no
 * further (the caller signs one over the export's own `audit.export` event first); each event line carries the leaf
 * hash stored with it (`"leaf"`), as the server's check uses it; the header is signed (`headerSignature`, Ed25519
 * over a domain-separated text, with the checkpoints' key) and each checkpoint line's `keyId` must name the key
 * that verifies it. Lines must be exactly as written (no field added, none reordered), so that no byte goes unchecked.
 * Archives written before these fields verify as before: without a signed header, its keys must be the ones given.
 */
import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import type { Kysely } from 'kysely';
import { inertJson, restoreInertJson } from '../lib/inert-json.js';
import type { Database } from '../store/schema.js';
import { isCanonicalBase64, publicKeyId, verifyCheckpoint } from './checkpoint.js';
import { listCheckpoints } from './checkpointer.js';
import { createLeafHasher, verifyPages, type PageEvent } from './leaf-hasher.js';
import {
  LogVerifier,
  withProblems,
  type CheckpointClaim,
  type VerifyProblem,
  type VerifyReport,
} from './log-verifier.js';
import { readEvents } from './store-reader.js';

export const EXPORT_FORMAT = 'phigate-audit-export/v1';

export interface ExportHeader {
  readonly format: typeof EXPORT_FORMAT;
  readonly origin: string;
  readonly exportedAt: string;
  /** Informative only: verify with a key you kept, not with the one the file brings. */
  readonly publicKeys: readonly { keyId: string; pem: string }[];
  /** Ed25519 over `headerSigningText` of the fields above, base64 (absent in archives written before it). */
  readonly headerSignature?: string;
}

const HEADER_DOMAIN = 'phigate-audit-export-header/v1\n';
type UnsignedHeader = Omit<ExportHeader, 'headerSignature'>;

/** What the header's signature covers: a domain of its own (never a checkpoint body), then the fields, in order. */
function headerSigningText(h: UnsignedHeader): Buffer {
  const fields = { format: h.format, origin: h.origin, exportedAt: h.exportedAt, publicKeys: h.publicKeys };
  return Buffer.from(HEADER_DOMAIN + JSON.stringify(fields), 'utf8');
}

/**
 * The export's lines, each ending in "\n". Call inside a REPEATABLE READ transaction for a consistent snapshot.
 * Events after the latest checkpoint in the snapshot are left out: the file carries nothing no signature covers.
 */
export async function* exportJsonlLines(
  db: Kysely<Database>,
  header: Omit<ExportHeader, 'format' | 'headerSignature'>,
  signingKey: KeyObject,
): AsyncGenerator<string> {
  const unsigned: UnsignedHeader = { format: EXPORT_FORMAT, ...header };
  const headerSignature = sign(null, headerSigningText(unsigned), signingKey).toString('base64');
  yield `${inertJson(JSON.stringify({ ...unsigned, headerSignature }))}\n`;
  const checkpoints = await listCheckpoints(db);
  for (const c of checkpoints) {
    const checkpoint = { body: c.body, keyId: c.keyId, signature: c.signature };
    yield `${inertJson(JSON.stringify({ checkpoint }))}\n`;
  }
  const signed = checkpoints.at(-1)?.size ?? 0;
  let size = 0;
  for await (const page of readEvents(db, { upTo: signed })) {
    yield page
      .map(
        (e) =>
          `{"seq":${e.seq},"leaf":"${e.leafHash.toString('base64')}","event":${inertJson(e.canonical)}}\n`,
      )
      .join('');
    size = page[page.length - 1]!.seq;
  }
  yield `${JSON.stringify({ end: { size } })}\n`;
}

const PAGE = 5_000;
const EVENT_LINE = /^\{"seq":([1-9]\d{0,15}),(?:"leaf":"([A-Za-z0-9+/]{43}=)",)?"event":/;
const HEADER_FIELDS = ['format', 'origin', 'exportedAt', 'publicKeys'];

/** Problems of a header: its signature, or (unsigned, an older archive) its keys, against the keys trusted. */
function headerProblems(value: Record<string, unknown>, trustedKeys: readonly KeyObject[]): VerifyProblem[] {
  const fields = Object.keys(value);
  const signature = value['headerSignature'];
  const expected = signature === undefined ? HEADER_FIELDS : [...HEADER_FIELDS, 'headerSignature'];
  if (fields.join() !== expected.join()) {
    return [{ code: 'export.header-altered', message: `line 1: fields ${fields.join(', ')}` }];
  }
  const keys = value['publicKeys'];
  if (signature === undefined) {
    // Written before headers were signed: what it says about keys must be true of the keys given.
    const trusted = new Set(trustedKeys.map((k) => publicKeyId(k)));
    const ok =
      Array.isArray(keys) &&
      keys.every((k: { keyId?: unknown; pem?: unknown }) => {
        try {
          return trusted.has(String(k.keyId)) && publicKeyId(loadPem(String(k.pem))) === k.keyId;
        } catch {
          return false;
        }
      });
    return ok
      ? []
      : [{ code: 'export.header-altered', message: 'line 1: its public keys are not the keys given' }];
  }
  const text = headerSigningText(value as unknown as UnsignedHeader);
  const verified =
    typeof signature === 'string' &&
    isCanonicalBase64(signature, 64) &&
    trustedKeys.some((k) => verify(null, text, k, Buffer.from(signature, 'base64')));
  return verified
    ? []
    : [{ code: 'export.header-altered', message: 'line 1: the header is not signed by a key given' }];
}

function loadPem(pem: string): KeyObject {
  return createPublicKey(pem);
}

/** A checkpoint line's problems beyond its signature: exactly its three fields, and the key id of the key given. */
function checkpointLineProblems(
  c: Record<string, unknown>,
  trustedKeys: readonly KeyObject[],
  lineNo: number,
): VerifyProblem[] {
  if (Object.keys(c).join() !== 'body,keyId,signature') {
    return [
      {
        code: 'export.malformed',
        message: `line ${lineNo}: a checkpoint's fields are not body, keyId, signature`,
      },
    ];
  }
  const signer = trustedKeys.find(
    (k) => verifyCheckpoint(String(c['body']), String(c['signature']), k) !== undefined,
  );
  if (signer !== undefined && publicKeyId(signer) !== c['keyId']) {
    return [
      {
        code: 'export.key-id-mismatch',
        message: `line ${lineNo}: keyId ${String(c['keyId'])} is not the key that signed it`,
      },
    ];
  }
  return [];
}

export async function verifyJsonlExport(
  lines: AsyncIterable<string>,
  options: {
    trustedKeys: readonly KeyObject[];
    origin?: string | undefined;
    /** Checkpoints kept elsewhere (witness copies): checked against the file's events like its own. */
    claims?: readonly CheckpointClaim[];
    /** Leaf-hashing threads (see leaf-hasher.ts); 0 hashes on this thread. */
    threads?: number;
  },
): Promise<VerifyReport & { origin: string | undefined }> {
  const problems: VerifyProblem[] = [];
  const claims: CheckpointClaim[] = [...(options.claims ?? [])];
  let verifier: LogVerifier | undefined;
  let header: ExportHeader | undefined;
  let ended: number | undefined;
  let lineNo = 0;
  const start = (): LogVerifier =>
    (verifier ??= new LogVerifier({
      claims,
      trustedKeys: options.trustedKeys,
      origin: options.origin ?? header?.origin,
    }));
  // Events are hashed a page at a time, the next page's leaves in a worker while this one joins the tree.
  async function* pages(): AsyncGenerator<PageEvent[]> {
    let page: PageEvent[] = [];
    for await (const raw of lines) {
      lineNo += 1;
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (line === '') continue;
      if (ended !== undefined) {
        problems.push({ code: 'export.after-end', message: `line ${lineNo}: content after the trailer` });
        break;
      }
      const event = EVENT_LINE.exec(line);
      if (event && line.endsWith('}')) {
        start();
        // The exact bytes that were hashed: the export wrote bidi and C1 controls as escapes (inertJson).
        const canonical = restoreInertJson(line.slice(event[0].length, -1));
        // A leaf spelled other than canonically is not the leaf that was written (two spellings, one value).
        const leafHash =
          event[2] === undefined
            ? undefined
            : isCanonicalBase64(event[2], 32)
              ? Buffer.from(event[2], 'base64')
              : Buffer.alloc(32);
        page.push({ seq: Number(event[1]), canonical, leafHash });
        if (page.length >= PAGE) {
          yield page;
          page = [];
        }
        continue;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        problems.push({ code: 'export.malformed', message: `line ${lineNo}: not JSON` });
        continue;
      }
      const value = parsed as Record<string, unknown>;
      const rewritten = typeof parsed === 'object' && parsed !== null ? JSON.stringify(parsed) : undefined;
      if (rewritten === undefined || (inertJson(rewritten) !== line && rewritten !== line)) {
        // Only what JSON.stringify wrote (then made inert) is read: no byte of a line goes unchecked.
        problems.push({ code: 'export.malformed', message: `line ${lineNo}: not as the exporter writes it` });
        continue;
      }
      if (lineNo === 1) {
        if (value['format'] !== EXPORT_FORMAT || typeof value['origin'] !== 'string') {
          throw new Error(`not a ${EXPORT_FORMAT} file (line 1 is not its header)`);
        }
        header = value as unknown as ExportHeader;
        problems.push(...headerProblems(value, options.trustedKeys));
      } else if (
        typeof value['checkpoint'] === 'object' &&
        value['checkpoint'] !== null &&
        verifier === undefined
      ) {
        const c = value['checkpoint'] as Record<string, unknown>;
        if (typeof c['body'] !== 'string' || typeof c['signature'] !== 'string') {
          problems.push({
            code: 'export.malformed',
            message: `line ${lineNo}: a checkpoint without body or signature`,
          });
        } else {
          problems.push(...checkpointLineProblems(c, options.trustedKeys, lineNo));
          claims.push({ source: 'export', body: c['body'], signature: c['signature'] });
        }
      } else if (typeof value['end'] === 'object' && value['end'] !== null) {
        ended = Number((value['end'] as Record<string, unknown>)['size']);
      } else {
        problems.push({
          code: 'export.malformed',
          message: `line ${lineNo}: not a header, checkpoint, event or trailer`,
        });
      }
    }
    if (page.length > 0) yield page;
  }
  const hasher = createLeafHasher(options.threads === undefined ? {} : { threads: options.threads });
  try {
    await verifyPages(pages(), (seq, leaf, stored) => start().pushLeaf(seq, leaf, stored), hasher);
  } finally {
    await hasher.close();
  }
  if (header === undefined) throw new Error(`not a ${EXPORT_FORMAT} file (it is empty)`);
  const report = start().finish();
  if (ended === undefined) {
    problems.push({
      code: 'export.truncated',
      seq: report.size + 1,
      message: 'the file ends without its trailer',
    });
  } else if (ended !== report.size) {
    problems.push({
      code: 'export.truncated',
      seq: Math.min(ended, report.size) + 1,
      message: `the trailer says ${ended} events; the file holds ${report.size}`,
    });
  }
  return { ...withProblems(report, problems), origin: header.origin };
}
