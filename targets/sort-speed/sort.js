// A stable sort: top-down merge sort that hands short runs to insertion sort. This is the file
// to make faster; test.js (protected) says what "correct" means, bench.js (protected) measures.
//
// Contract: `sort(array, compare)` returns a new array, sorted by `compare` (default: numbers
// ascending), stable (equal elements keep their order), and leaves `array` untouched.

// Runs of at most this many elements are sorted by insertion instead of merged.
export const INSERTION_THRESHOLD = 2;
// From this run length on, insertion finds its place by binary search instead of a linear scan.
export const BINARY_SEARCH_MIN = 64;

const ascending = (a, b) => a - b;

export function sort(array, compare = ascending) {
  const items = array.slice();
  const scratch = new Array(items.length);
  mergeSort(items, scratch, 0, items.length, compare);
  return items;
}

function mergeSort(items, scratch, lo, hi, compare) {
  if (hi - lo <= INSERTION_THRESHOLD) {
    insertionSort(items, lo, hi, compare);
    return;
  }
  const mid = (lo + hi) >>> 1;
  mergeSort(items, scratch, lo, mid, compare);
  mergeSort(items, scratch, mid, hi, compare);
  // Already in order across the halves: nothing to merge.
  if (compare(items[mid - 1], items[mid]) <= 0) return;
  merge(items, scratch, lo, mid, hi, compare);
}

function merge(items, scratch, lo, mid, hi, compare) {
  for (let k = lo; k < mid; k++) scratch[k] = items[k];
  let i = lo;
  let j = mid;
  let k = lo;
  while (i < mid && j < hi) {
    // `<= 0` takes from the left on ties: that is what makes the sort stable.
    items[k++] = compare(scratch[i], items[j]) <= 0 ? scratch[i++] : items[j++];
  }
  while (i < mid) items[k++] = scratch[i++];
}

function insertionSort(items, lo, hi, compare) {
  const binary = hi - lo >= BINARY_SEARCH_MIN;
  for (let i = lo + 1; i < hi; i++) {
    const item = items[i];
    let j = i - 1;
    if (binary) {
      // The first position whose element is greater than item (after equals: stable).
      let left = lo;
      let right = i;
      while (left < right) {
        const m = (left + right) >>> 1;
        if (compare(items[m], item) <= 0) left = m + 1;
        else right = m;
      }
      for (; j >= left; j--) items[j + 1] = items[j];
    } else {
      for (; j >= lo && compare(items[j], item) > 0; j--) items[j + 1] = items[j];
    }
    items[j + 1] = item;
  }
}
