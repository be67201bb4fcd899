/**
 * What the parts of a starting phigate share (`start.ts` and its `start-*.ts` helpers): the configuration, the open
 * store, the audit keys, the policy registry — and the list of what to stop, which each part extends as it starts.
 */
import type { PolicyRegistry } from '../access/policy-registry.js';
import type { AuditKeys } from '../audit/audit-keys.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../lib/logger.js';
import type { Store } from '../store/open-store.js';

/** What to stop, in the order it started; stopping runs it in reverse. */
export type Cleanups = (() => Promise<void> | void)[];

export interface StartContext {
  readonly config: Config;
  readonly logger: Logger;
  readonly store: Store;
  readonly keys: AuditKeys;
  readonly policies: PolicyRegistry;
  readonly replicaId: string;
  readonly cleanups: Cleanups;
}
