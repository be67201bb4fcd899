/** Whether a person in `groups` may hold `role` now: a member of one of its eligible groups. */
import type { RoleDefinition } from './types.js';

export function isEligible(role: Pick<RoleDefinition, 'eligibleGroups'>, groups: readonly string[]): boolean {
  return role.eligibleGroups.some((g) => groups.includes(g));
}
