import { open, stat } from 'node:fs/promises';

/** Whether `path` is a regular file (false when it is missing, a folder, or unreadable). */
export async function isFile(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isFile(), () => false);
}

export interface FileHead {
  /** Whole lines from the start of the file. */
  text: string;
  /** Bytes of the file, and of it in `text`. */
  totalBytes: number;
  shownBytes: number;
  truncated: boolean;
}

/**
 * The start of a file, at most `maxBytes` and `maxLines`, cut after a whole line (so neither a
 * diff hunk line nor a UTF-8 character is split); undefined when the file cannot be read. Only
 * that much is read, however large the file.
 */
export async function readHead(path: string, limits: { maxBytes: number; maxLines: number }): Promise<FileHead | undefined> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const { size } = await handle.stat();
    const buffer = Buffer.alloc(Math.min(size, limits.maxBytes));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    let end = bytesRead;
    if (bytesRead < size) end = buffer.lastIndexOf(0x0a, bytesRead - 1) + 1;
    let newline = -1;
    for (let line = 0; line < limits.maxLines; line++) {
      newline = buffer.indexOf(0x0a, newline + 1);
      if (newline < 0 || newline >= end) break;
      if (line === limits.maxLines - 1) end = newline + 1;
    }
    return { text: buffer.subarray(0, end).toString('utf8'), totalBytes: size, shownBytes: end, truncated: end < size };
  } finally {
    await handle.close();
  }
}
