/**
 * The policy of a starting phigate: read from its file (or given in memory), loaded or refused, reloaded on demand
 * and, when configured, whenever the file changes.
 */
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { PolicyRegistry } from '../access/policy-registry.js';
import { PhigateError } from '../lib/errors.js';
import { fileProblem } from '../lib/file-problem.js';
import type { Logger } from '../lib/logger.js';
import { formatProblem } from '../lib/yaml-source.js';

export interface PolicyText {
  readonly source: string;
  readonly sourceName: string;
}

export type PolicyReload = () => { ok: boolean; problems: readonly string[] };

export function readPolicyFile(file: string | undefined): PolicyText {
  if (!file) {
    throw new PhigateError(
      'invalid',
      'policy.missing',
      'no policy configured: set policy.file in phigate.yaml or PHIGATE_POLICY_FILE (or run `phigate demo`)',
    );
  }
  try {
    return { source: readFileSync(file, 'utf8'), sourceName: file };
  } catch (err) {
    throw new PhigateError(
      'invalid',
      'policy.unreadable',
      `cannot read the policy file ${file} (${fileProblem(err)}); it is named by policy.file in the ` +
        'configuration file (relative to that file) or by PHIGATE_POLICY_FILE',
      { file },
      { cause: err },
    );
  }
}

/** Loads the first policy; an invalid one refuses the start, naming every problem. */
export async function loadPolicyOrRefuse(policies: PolicyRegistry, policyText: PolicyText): Promise<void> {
  const loaded = await policies.load(policyText.source, policyText.sourceName);
  if (!loaded.ok) {
    throw new PhigateError(
      'invalid',
      'policy.invalid',
      `the policy is invalid:\n  ${loaded.problems.map((p) => formatProblem(policyText.sourceName, p)).join('\n  ')}`,
    );
  }
}

/** Re-reads the policy file; an invalid policy keeps the old one in force. */
export function policyReloader(
  policies: PolicyRegistry,
  policyFile: string | undefined,
  logger: Pick<Logger, 'info' | 'error'>,
): PolicyReload {
  return () => {
    if (!policyFile) return { ok: false, problems: ['no policy file configured (policy.file)'] };
    const result = policies.reloadFromFileSync(policyFile);
    if (result.ok) logger.info({ policyHash: result.hash }, 'policy reloaded');
    else
      logger.error({ problems: result.problems }, 'new policy is invalid; the previous one stays in force');
    return { ok: result.ok, problems: result.problems.map((p) => formatProblem(policyFile, p)) };
  };
}

/** Editors replace files rather than write them in place, so watch the directory and debounce. */
export function watchPolicy(file: string, reload: () => unknown): () => void {
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(path.dirname(file), { persistent: false }, (_event, name) => {
      if (name !== null && name !== path.basename(file)) return;
      clearTimeout(timer);
      timer = setTimeout(reload, 200);
    });
  } catch {
    return () => undefined;
  }
  return () => {
    clearTimeout(timer);
    watcher?.close();
  };
}
