/** The date-times of audit queries and reports: a value that is not one is refused, naming its field. */
import { InputRefusal } from '../input-refusal.js';

export function auditDate(value: string | undefined, field: string): Date | undefined {
  if (value === undefined) return undefined;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) {
    throw new InputRefusal('audit.filter-invalid', `${field} is not a date-time`, { field });
  }
  return d;
}
