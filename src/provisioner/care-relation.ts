/**
 * A role's care relation, looked up in the protected database: the patient ids that the relation's table relates
 * one person to at one instant (a care team, the attending clinician of encounters), following the table's way to
 * the patient id as the resource's PHI declaration gives it. Runs as the provisioning account, which needs SELECT on
 * the relation's table and the tables on its way to the patient.
 */
import type pg from 'pg';
import type { CareRelation } from '../policy/types.js';
import { readOnlyLookup } from './lookup.js';
import { qualifiedTable, quoteIdent } from './sql-names.js';

/**
 * The query for one person at one instant, at most `limit` ids — only among `among` when the request names
 * patients (so that a large relation cannot push them past the limit). Pure.
 */
export function careRelationQuery(
  relation: CareRelation,
  person: string,
  at: Date,
  limit: number,
  among?: readonly string[],
): { readonly text: string; readonly values: unknown[] } {
  const { hops, idColumn } = relation.patientPath;
  const joins = hops.map((hop, i) => {
    const from = i === 0 ? 't' : `h${i}`;
    return (
      `join ${qualifiedTable(hop.table).sql} h${i + 1} ` +
      `on h${i + 1}.${quoteIdent(hop.referenced)} = ${from}.${quoteIdent(hop.column)}`
    );
  });
  const patient = `${hops.length === 0 ? 't' : `h${hops.length}`}.${quoteIdent(idColumn)}`;
  const values: unknown[] = [person, limit];
  const conditions = [`t.${quoteIdent(relation.requesterColumn)} = $1`, `${patient} is not null`];
  const parameter = (value: unknown): string => `$${values.push(value)}`;
  if (relation.validFrom !== undefined || relation.validUntil !== undefined) {
    const instant = `${parameter(at)}::timestamptz`;
    if (relation.validFrom !== undefined)
      conditions.push(`t.${quoteIdent(relation.validFrom)} <= ${instant}`);
    if (relation.validUntil !== undefined) {
      const until = `t.${quoteIdent(relation.validUntil)}`;
      conditions.push(`(${until} is null or ${until} > ${instant})`);
    }
  }
  if (among !== undefined) conditions.push(`${patient}::text = any(${parameter([...among])}::text[])`);
  return {
    text: [
      `select distinct ${patient}::text as id from ${qualifiedTable(relation.table).sql} t`,
      ...joins,
      `where ${conditions.join(' and ')}`,
      'order by 1 limit $2',
    ].join(' '),
    values,
  };
}

export async function relatedPatients(
  admin: pg.Pool,
  relation: CareRelation,
  person: string,
  at: Date,
  limit: number,
  among?: readonly string[],
): Promise<string[]> {
  const query = careRelationQuery(relation, person, at, limit, among);
  const found = await readOnlyLookup(admin, (client) =>
    client.query<{ id: string }>(query.text, query.values),
  );
  return found.rows.map((r) => r.id);
}
