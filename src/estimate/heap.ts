/**
 * A binary min-heap of (key, id, version) entries. The forecast keeps one
 * per instance type and changes an instance's key by pushing a new entry
 * with a higher version; the stale entries are skipped when they come up
 * (lazy deletion), which is cheaper than finding and moving them.
 */
export interface HeapEntry {
  key: number;
  id: number;
  version: number;
}

export class MinHeap {
  private readonly items: HeapEntry[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): HeapEntry | undefined {
    return this.items[0];
  }

  push(e: HeapEntry): void {
    const a = this.items;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p].key <= e.key) break;
      a[i] = a[p];
      i = p;
    }
    a[i] = e;
  }

  pop(): HeapEntry | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const r = l + 1;
        const c = r < a.length && a[r].key < a[l].key ? r : l;
        if (a[c].key >= last.key) break;
        a[i] = a[c];
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}
