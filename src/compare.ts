/**
 * Strings in code-unit order: what JavaScript's `<` gives and Go's string
 * comparison gives, independent of locale. The pool's lists, the management
 * API's and /metrics.json's are sorted so, as the reference's are.
 */

export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Sorts a few strings in code-unit order, in place (a worker runs one or two
 * containers, rarely more): an insertion sort costs a few comparisons where
 * `Array.prototype.sort` costs about a microsecond a call.
 */
export function sortFew(a: string[]): void {
  if (a.length > 16) {
    a.sort();
    return;
  }
  for (let i = 1; i < a.length; i++) {
    const x = a[i];
    let j = i - 1;
    for (; j >= 0 && a[j] > x; j--) a[j + 1] = a[j];
    a[j + 1] = x;
  }
}
