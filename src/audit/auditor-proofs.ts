/**
 * The auditor's view of what was signed: checkpoints (listed, or signed now), and the inclusion and consistency
 * proofs that tie an event or an older checkpoint to a signed one. Every call goes through the auditor gate.
 */
import type { Principal } from '../identity/principal.js';
import { PhigateError } from '../lib/errors.js';
import type { Db } from '../store/database.js';
import type { AuditorGate } from './auditor-gate.js';
import { asDamage } from './damage.js';
import {
  findCheckpoint,
  latestCheckpoint,
  listCheckpoints,
  type Checkpointer,
  type StoredCheckpoint,
} from './checkpointer.js';
import { queryEvents } from './event-query.js';
import { consistencyPath, inclusionPath } from './merkle.js';
import type { ConsistencyProofView, InclusionProofView, SignedCheckpointView } from './proof-view.js';
import { nodesNeeded, subtreeHashFrom } from './stored-subtrees.js';
import { fetchNodes } from './tree-store.js';

export interface AuditorProofs {
  checkpoints(p: Principal, afterSize: number | undefined, limit: number): Promise<StoredCheckpoint[]>;
  signCheckpoint(p: Principal): Promise<StoredCheckpoint>;
  inclusionProof(p: Principal, seq: number, treeSize?: number): Promise<InclusionProofView>;
  consistencyProof(p: Principal, fromSize: number, toSize: number): Promise<ConsistencyProofView>;
}

export interface AuditorProofsDeps {
  readonly db: Db;
  readonly checkpointer: Pick<Checkpointer, 'checkpoint'>;
  readonly gate: AuditorGate;
}

const view = (c: StoredCheckpoint): SignedCheckpointView => ({
  body: c.body,
  keyId: c.keyId,
  signature: c.signature,
});

/** A signed checkpoint covering `size` events at least: the latest, or a new one when the log outgrew it. */
async function checkpointCovering(
  db: Db,
  checkpointer: Pick<Checkpointer, 'checkpoint'>,
  seq: number,
): Promise<StoredCheckpoint> {
  const latest = await latestCheckpoint(db);
  if (latest !== undefined && latest.size >= seq) return latest;
  const signed = await asDamage(checkpointer.checkpoint());
  if (signed.size < seq)
    throw new PhigateError('not-found', 'audit.no-such-event', `there is no event ${seq}`);
  return signed;
}

async function checkpointOfSize(db: Db, size: number): Promise<StoredCheckpoint> {
  const found = await findCheckpoint(db, size);
  if (found === undefined) {
    throw new PhigateError(
      'not-found',
      'audit.no-such-checkpoint',
      `no checkpoint was signed at size ${size}`,
      {
        size,
      },
    );
  }
  return found;
}

/** The inclusion proof of event `seq` in the tree `checkpoint` signed. */
async function inclusionIn(db: Db, seq: number, checkpoint: StoredCheckpoint): Promise<InclusionProofView> {
  if (seq > checkpoint.size) {
    throw new PhigateError(
      'invalid',
      'audit.seq-beyond-tree',
      `event ${seq} is not in a tree of ${checkpoint.size}`,
    );
  }
  // The tree always covers a signed checkpoint: the checkpointer builds before it signs.
  const compute = (mth: Parameters<typeof inclusionPath>[2]) => inclusionPath(seq - 1, checkpoint.size, mth);
  const nodes = await fetchNodes(db, [...nodesNeeded(compute), { level: 0, idx: seq - 1 }]);
  const [event] = await queryEvents(db, { cursor: seq - 1, limit: 1 });
  if (event === undefined || event.seq !== seq) {
    throw new PhigateError('not-found', 'audit.no-such-event', `there is no event ${seq}`);
  }
  return {
    seq,
    leafIndex: seq - 1,
    treeSize: checkpoint.size,
    event: event.canonical,
    leafHash: nodes.get(`0:${seq - 1}`)!.toString('base64'),
    auditPath: compute(subtreeHashFrom(nodes)).map((h) => h.toString('base64')),
    checkpoint: view(checkpoint),
  };
}

export function createAuditorProofs({ db, checkpointer, gate }: AuditorProofsDeps): AuditorProofs {
  return {
    async checkpoints(p, afterSize, limit) {
      await gate.requireAuditor(p, 'audit.checkpoints');
      return listCheckpoints(db, { afterSize, limit });
    },

    async signCheckpoint(p) {
      await gate.requireAuditor(p, 'audit.checkpoint');
      const signed = await asDamage(checkpointer.checkpoint());
      await gate.record(p, 'audit.checkpoint', { size: signed.size });
      return signed;
    },

    async inclusionProof(p, seq, treeSize) {
      await gate.requireAuditor(p, 'audit.proof');
      if (!Number.isSafeInteger(seq) || seq < 1) {
        throw new PhigateError('invalid', 'audit.seq-invalid', 'a sequence number is a positive integer');
      }
      const checkpoint =
        treeSize === undefined
          ? await checkpointCovering(db, checkpointer, seq)
          : await checkpointOfSize(db, treeSize);
      return inclusionIn(db, seq, checkpoint);
    },

    async consistencyProof(p, fromSize, toSize) {
      await gate.requireAuditor(p, 'audit.proof');
      if (
        !Number.isSafeInteger(fromSize) ||
        !Number.isSafeInteger(toSize) ||
        fromSize < 0 ||
        fromSize > toSize
      ) {
        throw new PhigateError('invalid', 'audit.sizes-invalid', 'expected 0 ≤ from ≤ to');
      }
      const [from, to] = [await checkpointOfSize(db, fromSize), await checkpointOfSize(db, toSize)];
      if (fromSize === 0) return { fromSize, toSize, proof: [], from: view(from), to: view(to) };
      const compute = (mth: Parameters<typeof consistencyPath>[2]) => consistencyPath(fromSize, toSize, mth);
      const nodes = await fetchNodes(db, nodesNeeded(compute));
      return {
        fromSize,
        toSize,
        proof: compute(subtreeHashFrom(nodes)).map((h) => h.toString('base64')),
        from: view(from),
        to: view(to),
      };
    },
  };
}
