/** A person's habits per role (hours and volume baselines), created on first use. */
import { emptyBaseline, type PersonState, type RoleHabit } from './engine-state.js';

export function habitOf(person: PersonState, role: string): RoleHabit {
  let habit = person.roles[role];
  if (habit === undefined) {
    habit = {
      inHours: 0,
      offHours: 0,
      perGrant: emptyBaseline(),
      perHour: emptyBaseline(),
      hour: 0,
      current: null,
    };
    person.roles[role] = habit;
  }
  return habit;
}
