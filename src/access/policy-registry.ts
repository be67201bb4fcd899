/**
 * The policy in force, and every version requests were decided under. Each version's source is kept in the store by
 * hash, so an approval can be checked against the version its request was decided under as well as the one in force
 * (stricter wins, ATTACKS 13), even after restarts and reloads. An invalid new policy never replaces a valid one.
 */
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import type { Transaction } from 'kysely';
import { PhigateError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { compilePolicy } from '../policy/compile.js';
import type { CompiledPolicy, PolicyProblem } from '../policy/types.js';
import type { Db } from '../store/database.js';
import { findPolicyVersion, savePolicyVersion } from '../store/policy-version-repository.js';
import type { Database } from '../store/schema.js';

export type PolicyLoadResult =
  | { readonly ok: true; readonly hash: string; readonly changed: boolean; readonly problems: readonly [] }
  | { readonly ok: false; readonly problems: readonly PolicyProblem[] };

export interface PolicyRegistry {
  /** The policy in force. Throws before the first successful load. */
  current(): CompiledPolicy;
  /** Compiles and, when valid, persists and puts in force; an invalid policy leaves the old one in force. */
  load(source: string, sourceName: string): Promise<PolicyLoadResult>;
  reloadFromFile(path: string): Promise<PolicyLoadResult>;
  /** For signal handlers and file watchers that cannot wait; the version is persisted in the background. */
  reloadFromFileSync(path: string): PolicyLoadResult;
  /** A version by hash (the one a request was decided under), compiled once and cached. */
  version(hash: string): Promise<CompiledPolicy>;
  /** Makes sure the version's source is stored, inside the transaction that records a decision under it. */
  ensurePersisted(tx: Transaction<Database>, policy: CompiledPolicy): Promise<void>;
}

export interface PolicyRegistryOptions {
  readonly db: Db;
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error'>;
}

export function createPolicyRegistry(deps: PolicyRegistryOptions): PolicyRegistry {
  const { db, logger } = deps;
  let inForce: CompiledPolicy | undefined;
  const versions = new Map<string, CompiledPolicy>();
  const persisted = new Set<string>();

  const compile = (source: string, sourceName: string): PolicyLoadResult & { policy?: CompiledPolicy } => {
    const result = compilePolicy(source, sourceName);
    if (!result.ok) return { ok: false, problems: result.problems };
    const changed = inForce?.hash !== result.policy.hash;
    return { ok: true, hash: result.policy.hash, changed, problems: [], policy: result.policy };
  };

  const putInForce = (policy: CompiledPolicy): void => {
    versions.set(policy.hash, policy);
    inForce = policy;
  };

  const persist = async (policy: CompiledPolicy): Promise<void> => {
    if (persisted.has(policy.hash)) return;
    await savePolicyVersion(db, { hash: policy.hash, sourceName: policy.sourceName, source: policy.source });
    persisted.add(policy.hash);
  };

  const strip = (r: PolicyLoadResult & { policy?: CompiledPolicy }): PolicyLoadResult =>
    r.ok ? { ok: true, hash: r.hash, changed: r.changed, problems: [] } : r;

  const unreadable = (path: string, err: unknown): PolicyLoadResult => ({
    ok: false,
    problems: [{ path: '', line: undefined, message: `cannot read ${path}: ${(err as Error).message}` }],
  });

  const registry: PolicyRegistry = {
    current() {
      if (inForce === undefined) {
        throw new PhigateError('unavailable', 'policy.not-loaded', 'no policy is loaded');
      }
      return inForce;
    },
    async load(source, sourceName) {
      const r = compile(source, sourceName);
      if (r.policy === undefined) {
        // At start there is no previous policy: do not promise one (start then refuses to serve).
        logger.error(
          { sourceName, problems: r.problems.length },
          inForce === undefined
            ? 'policy is invalid; no policy is in force'
            : 'policy is invalid; the previous one stays in force',
        );
        return strip(r);
      }
      await persist(r.policy);
      putInForce(r.policy);
      if (r.ok && r.changed) logger.info({ policyHash: r.policy.hash, sourceName }, 'policy in force');
      return strip(r);
    },
    async reloadFromFile(path) {
      let source: string;
      try {
        source = await readFile(path, 'utf8');
      } catch (err) {
        return unreadable(path, err);
      }
      return registry.load(source, path);
    },
    reloadFromFileSync(path) {
      let source: string;
      try {
        source = readFileSync(path, 'utf8');
      } catch (err) {
        return unreadable(path, err);
      }
      const r = compile(source, path);
      if (r.policy === undefined) return strip(r);
      const policy = r.policy;
      putInForce(policy);
      // Requests decided under it store it in their own transaction anyway (ensurePersisted); this is early.
      persist(policy).catch((err: unknown) =>
        logger.warn({ err, policyHash: policy.hash }, 'could not store policy version yet'),
      );
      return strip(r);
    },
    async version(hash) {
      const known = versions.get(hash);
      if (known !== undefined) return known;
      const row = await findPolicyVersion(db, hash);
      if (row === undefined) {
        throw new PhigateError(
          'unavailable',
          'policy.version-missing',
          `policy version ${hash} is not in the store`,
        );
      }
      const r = compilePolicy(row.source, row.source_name);
      // A version that no longer compiles (or hashes differently) cannot vouch for anything: fail closed.
      if (!r.ok || r.policy.hash !== hash) {
        throw new PhigateError(
          'unavailable',
          'policy.version-unusable',
          `policy version ${hash} cannot be compiled`,
        );
      }
      versions.set(hash, r.policy);
      persisted.add(hash);
      return r.policy;
    },
    async ensurePersisted(tx, policy) {
      if (persisted.has(policy.hash)) return;
      await savePolicyVersion(tx, {
        hash: policy.hash,
        sourceName: policy.sourceName,
        source: policy.source,
      });
    },
  };
  return registry;
}
