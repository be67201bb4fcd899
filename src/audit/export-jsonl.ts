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
 */
import type { KeyObject } from 'node:crypto';
import type { Kysely } from 'kysely';
import { inertJson, restoreInertJson } from '../lib/inert-json.js';
import type { Database } from '../store/schema.js';
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
}

/** The export's lines, each ending in "\n". Call inside a REPEATABLE READ transaction for a consistent snapshot. */
export async function* exportJsonlLines(
  db: Kysely<Database>,
  header: Omit<ExportHeader, 'format'>,
): AsyncGenerator<string> {
  yield `${inertJson(JSON.stringify({ format: EXPORT_FORMAT, ...header }))}\n`;
  for (const c of await listCheckpoints(db)) {
    const checkpoint = { body: c.body, keyId: c.keyId, signature: c.signature };
    yield `${inertJson(JSON.stringify({ checkpoint }))}\n`;
  }
  let size = 0;
  for await (const page of readEvents(db)) {
    yield page.map((e) => `{"seq":${e.seq},"event":${inertJson(e.canonical)}}\n`).join('');
    size = page[page.length - 1]!.seq;
  }
  yield `${JSON.stringify({ end: { size } })}\n`;
}

const PAGE = 5_000;
const EVENT_LINE = /^\{"seq":([1-9]\d{0,15}),"event":/;

export async function verifyJsonlExport(
  lines: AsyncIterable<string>,
  options: {
    trustedKeys: readonly KeyObject[];
    origin?: string | undefined;
    /** Checkpoints kept elsewhere (witness copies): checked against the file's events like its own. */
    claims?: readonly CheckpointClaim[];
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
        page.push({ seq: Number(event[1]), canonical });
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
      if (lineNo === 1) {
        if (value['format'] !== EXPORT_FORMAT || typeof value['origin'] !== 'string') {
          throw new Error(`not a ${EXPORT_FORMAT} file (line 1 is not its header)`);
        }
        header = value as unknown as ExportHeader;
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
  const hasher = createLeafHasher();
  try {
    await verifyPages(pages(), (seq, leaf) => start().pushLeaf(seq, leaf), hasher);
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
