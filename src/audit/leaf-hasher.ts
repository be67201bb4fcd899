/**
 * Leaf hashes off the main thread. Verifying a log is two SHA-256 calls per event — the leaf over the event's bytes
 * and about one interior node — and the leaf is the larger; computing leaves for the next page in a worker while the
 * main thread folds the previous page into the tree makes verification run at nearly the speed of hashing the data
 * once. A page travels as one transferred buffer (each event prefixed with RFC 6962's 0x00), so the worker hashes
 * slices in place and nothing is copied twice.
 *
 * The worker is plain JavaScript evaluated from a string: it needs nothing but node:crypto, and so runs the same from
 * source (tests) and from the build.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { hash } from 'node:crypto';

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { hash } = require('node:crypto');
parentPort.on('message', ({ id, data, ends }) => {
  const bytes = Buffer.from(data);
  // Buffer.alloc, never the shared pool: the whole ArrayBuffer is transferred back.
  const out = Buffer.alloc(32 * ends.length);
  let start = 0;
  for (let i = 0; i < ends.length; i++) {
    hash('sha256', bytes.subarray(start, ends[i]), 'buffer').copy(out, 32 * i);
    start = ends[i];
  }
  parentPort.postMessage({ id, leaves: out.buffer }, [out.buffer]);
});
`;

export interface LeafHasher {
  /** The RFC 6962 leaf hashes of these canonical texts, concatenated (32 bytes each). */
  leaves(canonicals: readonly string[]): Promise<Buffer>;
  close(): Promise<void>;
}

/** One page as 0x00 ‖ utf8(text) per event, and where each ends. */
function pack(canonicals: readonly string[]): { data: Buffer; ends: number[] } {
  let total = 0;
  for (const c of canonicals) total += Buffer.byteLength(c, 'utf8') + 1;
  const data = Buffer.allocUnsafe(total);
  const ends: number[] = [];
  let at = 0;
  for (const c of canonicals) {
    data[at] = 0x00;
    at += 1 + data.write(c, at + 1, 'utf8');
    ends.push(at);
  }
  return { data, ends };
}

function hashInThread(canonicals: readonly string[]): Buffer {
  const { data, ends } = pack(canonicals);
  const out = Buffer.allocUnsafe(32 * ends.length);
  let start = 0;
  ends.forEach((end, i) => {
    hash('sha256', data.subarray(start, end), 'buffer').copy(out, 32 * i);
    start = end;
  });
  return out;
}

export function createLeafHasher(options: { threads?: number } = {}): LeafHasher {
  const threads = options.threads ?? (availableParallelism() > 1 ? 1 : 0);
  if (threads === 0) {
    return { leaves: (c) => Promise.resolve(hashInThread(c)), close: () => Promise.resolve() };
  }
  const worker = new Worker(WORKER_SOURCE, { eval: true });
  worker.unref();
  const waiting = new Map<number, { resolve: (b: Buffer) => void; reject: (e: unknown) => void }>();
  let nextId = 0;
  let failed: unknown;
  worker.on('message', ({ id, leaves }: { id: number; leaves: ArrayBuffer }) => {
    waiting.get(id)?.resolve(Buffer.from(leaves));
    waiting.delete(id);
  });
  worker.on('error', (err) => {
    failed = err;
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
  });
  return {
    leaves(canonicals) {
      if (failed !== undefined)
        return Promise.reject(failed instanceof Error ? failed : new Error('leaf worker failed'));
      const { data, ends } = pack(canonicals);
      // A pooled small Buffer shares its ArrayBuffer: copy those rather than transfer someone else's memory.
      const own: ArrayBuffer =
        data.byteOffset === 0 && data.byteLength === data.buffer.byteLength
          ? (data.buffer as ArrayBuffer)
          : new Uint8Array(data).buffer;
      const id = nextId++;
      return new Promise<Buffer>((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        worker.postMessage({ id, data: own, ends }, [own]);
      });
    },
    async close() {
      await worker.terminate();
    },
  };
}

export interface PageEvent {
  readonly seq: number;
  readonly canonical: string;
  /** The leaf hash stored with the event, when the source keeps one. */
  readonly leafHash?: Buffer | undefined;
}

/**
 * Feeds pages into a verifier, computing the next page's leaves while the current one is folded into the tree.
 */
export async function verifyPages(
  pages: AsyncIterable<readonly PageEvent[]>,
  pushLeaf: (seq: number, leaf: Buffer, stored: Buffer | undefined) => void,
  hasher: LeafHasher,
): Promise<void> {
  let pending: { page: readonly PageEvent[]; leaves: Promise<Buffer> } | undefined;
  const drain = async (): Promise<void> => {
    if (!pending) return;
    const { page, leaves } = pending;
    pending = undefined;
    const hashes = await leaves;
    page.forEach((e, i) => pushLeaf(e.seq, hashes.subarray(32 * i, 32 * i + 32), e.leafHash));
  };
  for await (const page of pages) {
    const next = { page, leaves: hasher.leaves(page.map((e) => e.canonical)) };
    next.leaves.catch(() => undefined);
    await drain();
    pending = next;
  }
  await drain();
}
