/**
 * When two accounts are one person (see `PersonRef`): the same id, or a person key in common. Pure and opaque: the
 * policy does not know what a key is made of, only that equal keys name one human.
 */
import type { PersonRef } from './types.js';

/** The person keys `a` and `b` have in common, in `a`'s order. */
export function sharedPersonKeys(a: PersonRef, b: PersonRef): readonly string[] {
  const theirs = new Set(b.personKeys ?? []);
  return (a.personKeys ?? []).filter((k) => theirs.has(k));
}

export function samePerson(a: PersonRef, b: PersonRef): boolean {
  return a.id === b.id || sharedPersonKeys(a, b).length > 0;
}

/**
 * Groups references into people: linked accounts (same id, or a key in common, directly or through a third) share
 * one number, the index of the group's first reference. Union-find over an index of ids and keys, so a long list
 * costs one pass rather than a comparison of every pair.
 */
export function personGroups(refs: readonly PersonRef[]): number[] {
  const parent = refs.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]!]!;
      i = parent[i]!;
    }
    return i;
  };
  const firstWith = new Map<string, number>();
  refs.forEach((ref, i) => {
    // Ids and keys are labelled apart: an id never equals a key by accident.
    for (const label of [`id\u0000${ref.id}`, ...(ref.personKeys ?? []).map((k) => `key\u0000${k}`)]) {
      const j = firstWith.get(label);
      if (j === undefined) {
        firstWith.set(label, i);
        continue;
      }
      const [a, b] = [find(i), find(j)];
      if (a !== b) parent[Math.max(a, b)] = Math.min(a, b);
    }
  });
  return refs.map((_, i) => find(i));
}
