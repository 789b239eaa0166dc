/** Live processes on this machine, found by their command line: pids inside a sandbox are not ours to check. */
import { readdir, readFile } from 'node:fs/promises';

export async function processesRunning(cmdline: string): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((e) => /^\d+$/.test(e));
  const found: number[] = [];
  for (const pid of pids) {
    const [text, stat] = await Promise.all([readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => ''), readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')]);
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    if (state !== 'Z' && text.split('\0').join(' ').trim() === cmdline) found.push(Number(pid));
  }
  return found;
}
