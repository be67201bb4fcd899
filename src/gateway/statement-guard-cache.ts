/**
 * The SQL guard's verdicts, remembered. Applications send the same statement text again and again, and the verdict
 * depends on the text alone. Keyed by the exact text, never by fingerprint: a fingerprint that lexed a literal
 * differently from PostgreSQL must not inherit another statement's verdict. Bounded: oldest first out.
 */
import { guardSql, type GuardVerdict } from './postgres/sql-guard.js';

/** Longer statements are guarded each time: they are rarely repeated, and would crowd the cache. */
const MAX_CACHED_SQL = 4096;
const MAX_ENTRIES = 2000;

export function createGuardCache(): (sql: string) => Promise<GuardVerdict> {
  const verdicts = new Map<string, GuardVerdict>();
  return async (sql) => {
    const known = verdicts.get(sql);
    if (known !== undefined) return known;
    const verdict = await guardSql(sql);
    if (sql.length <= MAX_CACHED_SQL) {
      if (verdicts.size >= MAX_ENTRIES) verdicts.delete(verdicts.keys().next().value!);
      verdicts.set(sql, verdict);
    }
    return verdict;
  };
}
