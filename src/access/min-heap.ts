/**
 * A binary min-heap keyed by a number (a due time in epoch ms). The expiry scheduler keeps every tracked deadline
 * here and arms one timer for the root, so thousands of grants cost one timer, not thousands.
 */
export interface HeapEntry<T> {
  readonly key: number;
  readonly value: T;
}

export class MinHeap<T> {
  readonly #items: HeapEntry<T>[] = [];

  get size(): number {
    return this.#items.length;
  }

  peek(): HeapEntry<T> | undefined {
    return this.#items[0];
  }

  push(key: number, value: T): void {
    const items = this.#items;
    items.push({ key, value });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]!.key <= items[i]!.key) break;
      this.#swap(i, parent);
      i = parent;
    }
  }

  pop(): HeapEntry<T> | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      this.#siftDown(0);
    }
    return top;
  }

  /** Removes and returns every entry whose key is ≤ `limit`, in key order. */
  popUntil(limit: number, max = Number.POSITIVE_INFINITY): HeapEntry<T>[] {
    const out: HeapEntry<T>[] = [];
    while (out.length < max) {
      const top = this.#items[0];
      if (top === undefined || top.key > limit) break;
      out.push(this.pop()!);
    }
    return out;
  }

  clear(): void {
    this.#items.length = 0;
  }

  #siftDown(start: number): void {
    const items = this.#items;
    const n = items.length;
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let smallest = i;
      if (l < n && items[l]!.key < items[smallest]!.key) smallest = l;
      if (r < n && items[r]!.key < items[smallest]!.key) smallest = r;
      if (smallest === i) return;
      this.#swap(i, smallest);
      i = smallest;
    }
  }

  #swap(a: number, b: number): void {
    const items = this.#items;
    const t = items[a]!;
    items[a] = items[b]!;
    items[b] = t;
  }
}
