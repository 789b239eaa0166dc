import { stat } from 'node:fs/promises';

/** Whether `path` is a regular file (false when it is missing, a folder, or unreadable). */
export async function isFile(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isFile(), () => false);
}
