/** A patch.diff of many megabytes, as a candidate that rewrote a data file would leave. */
export function bigPatch(megabytes: number): string {
  const head = 'diff --git a/data.txt b/data.txt\n--- a/data.txt\n+++ b/data.txt\n@@ -0,0 +1,999999 @@\n';
  const line = `+${'x'.repeat(99)}\n`; // 101 bytes
  return head + line.repeat(Math.ceil((megabytes * 1024 * 1024) / line.length));
}
