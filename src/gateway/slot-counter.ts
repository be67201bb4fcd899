/**
 * How many of something each key holds at once: the gateway counts connections still signing in per client address
 * (`gateway.maxPreAuthPerAddress`) and sessions being opened per grant (the grant's `maxConnections`). A key whose
 * count falls to zero is forgotten, so the table holds only keys that hold something.
 */
export class SlotCounter {
  private readonly held = new Map<string, number>();

  count(key: string): number {
    return this.held.get(key) ?? 0;
  }

  /** Takes one slot for `key`; the function returned gives it back, once however often it is called. */
  take(key: string): () => void {
    this.held.set(key, this.count(key) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = this.count(key) - 1;
      if (n <= 0) this.held.delete(key);
      else this.held.set(key, n);
    };
  }

  /** Keys holding at least one slot. */
  get size(): number {
    return this.held.size;
  }
}
