/**
 * A map nobody can change after compilation. `Object.freeze` does not stop `Map#set`, and a compiled policy is
 * shared by every request: a caller casting away `ReadonlyMap` must not be able to add a role or drop a resource.
 */
export class FrozenMap<K, V> implements ReadonlyMap<K, V> {
  readonly #inner: Map<K, V>;

  constructor(entries: Iterable<readonly [K, V]>) {
    this.#inner = new Map(entries);
    Object.freeze(this);
  }

  get size(): number {
    return this.#inner.size;
  }
  get(key: K): V | undefined {
    return this.#inner.get(key);
  }
  has(key: K): boolean {
    return this.#inner.has(key);
  }
  forEach(callback: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    this.#inner.forEach((v, k) => callback.call(thisArg, v, k, this));
  }
  entries(): MapIterator<[K, V]> {
    return this.#inner.entries();
  }
  keys(): MapIterator<K> {
    return this.#inner.keys();
  }
  values(): MapIterator<V> {
    return this.#inner.values();
  }
  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.#inner[Symbol.iterator]();
  }
}
