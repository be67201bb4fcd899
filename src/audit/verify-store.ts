/**
 * `phigate audit verify` against the store: every event, every checkpoint in the store, every checkpoint the
 * witnesses kept. The store's own checkpoints prove little against someone who rewrote the store; the witnesses'
 * copies and the auditor's own public key are what make a rewrite visible.
 */
import type { KeyObject } from 'node:crypto';
import type { Db } from '../store/database.js';
import { listCheckpoints } from './checkpointer.js';
import { LogVerifier, type CheckpointClaim, type VerifyProblem, type VerifyReport } from './log-verifier.js';
import { createLeafHasher, verifyPages } from './leaf-hasher.js';
import { readEvents } from './store-reader.js';
import type { Witness } from './witness.js';

export interface VerifyStoreOptions {
  readonly trustedKeys: readonly KeyObject[];
  readonly origin?: string | undefined;
  readonly witnesses?: readonly Witness[];
}

export async function verifyStore(db: Db, options: VerifyStoreOptions): Promise<VerifyReport> {
  const claims: CheckpointClaim[] = (await listCheckpoints(db)).map((c) => ({
    source: 'store',
    body: c.body,
    signature: c.signature,
  }));
  const witnessProblems: VerifyProblem[] = [];
  for (const w of options.witnesses ?? []) {
    try {
      const { entries, problems } = await w.read();
      for (const p of problems)
        witnessProblems.push({ code: 'witness.unreadable', message: `${w.name}: ${p}` });
      for (const e of entries) claims.push({ source: w.name, body: e.body, signature: e.signature });
    } catch (err) {
      witnessProblems.push({
        code: 'witness.unavailable',
        message: `${w.name}: ${err instanceof Error ? err.message : String(err)}`,
      });
    }
  }
  const verifier = new LogVerifier({ claims, trustedKeys: options.trustedKeys, origin: options.origin });
  const hasher = createLeafHasher();
  try {
    await verifyPages(readEvents(db), (seq, leaf, stored) => verifier.pushLeaf(seq, leaf, stored), hasher);
  } finally {
    await hasher.close();
  }
  const report = verifier.finish();
  if (witnessProblems.length === 0) return report;
  return { ...report, ok: false, problems: [...report.problems, ...witnessProblems] };
}
