/**
 * Finding audit events: by actor, resource, action, patient token and time, a page at a time in seq order. Returns
 * the stored canonical text; audit/event-query.ts parses it.
 */
import { sql, type RawBuilder } from 'kysely';
import type { Db } from './database.js';

export interface EventFilter {
  readonly actor?: string | undefined;
  readonly resource?: string | undefined;
  readonly action?: string | undefined;
  readonly patientToken?: string | undefined;
  /** Events indexed under any of these tokens (a patient's, and the accounting's marker for unattributed ones). */
  readonly anyPatientToken?: readonly string[] | undefined;
  readonly from?: Date | undefined;
  readonly to?: Date | undefined;
  /** Events after this seq (ascending) or before it (descending). */
  readonly cursor?: number | undefined;
  readonly order?: 'asc' | 'desc' | undefined;
  readonly limit?: number | undefined;
}

export const MAX_PAGE = 1_000;

export async function selectEvents(
  db: Db,
  filter: EventFilter,
): Promise<{ seq: number; canonical: string }[]> {
  const conditions: RawBuilder<unknown>[] = [sql`true`];
  const desc = filter.order === 'desc';
  if (filter.actor !== undefined) conditions.push(sql`actor_id = ${filter.actor}`);
  if (filter.resource !== undefined) conditions.push(sql`resource = ${filter.resource}`);
  if (filter.action !== undefined) conditions.push(sql`action = ${filter.action}`);
  if (filter.patientToken !== undefined)
    conditions.push(sql`patient_tokens @> array[${filter.patientToken}]::text[]`);
  if (filter.anyPatientToken !== undefined)
    conditions.push(sql`patient_tokens && ${[...filter.anyPatientToken]}::text[]`);
  if (filter.from !== undefined) conditions.push(sql`recorded_at >= ${filter.from}`);
  if (filter.to !== undefined) conditions.push(sql`recorded_at < ${filter.to}`);
  if (filter.cursor !== undefined)
    conditions.push(desc ? sql`seq < ${filter.cursor}` : sql`seq > ${filter.cursor}`);
  const limit = Math.min(Math.max(filter.limit ?? 100, 1), MAX_PAGE);
  const rows = await sql<{ seq: number; canonical: string }>`
    select seq, canonical from audit_events where ${sql.join(conditions, sql` and `)}
     order by seq ${desc ? sql`desc` : sql`asc`} limit ${limit}`.execute(db);
  return rows.rows;
}
