/** A policy role's access to one table, as compiled from a policy without PHI labels (every column clear). */
import type { TableAccess } from '../../src/policy/types.js';

export function tableAccess(
  table: string,
  columns: readonly string[],
  more: Partial<TableAccess> = {},
): TableAccess {
  return {
    table,
    columns,
    masks: Object.fromEntries(columns.map((c) => [c, 'clear' as const])),
    operations: ['SELECT'],
    phi: false,
    patientPath: undefined,
    ...more,
  };
}
