import { afterEach, describe, expect, it } from 'vitest';
import { resolveObjective } from '../../src/spec/objective.js';
import { tempDir, writeTree } from '../helpers/gitdir.js';
import { issuesOfAsync, lines } from './problems.js';

describe('resolveObjective', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });
  async function repo(files: Record<string, string>): Promise<string> {
    const dir = await tempDir();
    cleanup = dir.cleanup;
    await writeTree(dir.path, files);
    return dir.path;
  }

  it('reads a file of the repository that the objective names', async () => {
    const dir = await repo({ 'program.md': '# Goal\n\nMake the sort faster.\n', 'docs/goal.txt': 'Use less memory.' });
    expect(await resolveObjective({ objective: 'program.md' }, dir)).toBe('# Goal\n\nMake the sort faster.');
    expect(await resolveObjective({ objective: 'docs/goal.txt' }, dir)).toBe('Use less memory.');
  });

  it('takes prose as the objective itself', async () => {
    const dir = await repo({ 'README.md': 'hi' });
    expect(await resolveObjective({ objective: 'Make the sort faster without new dependencies.' }, dir)).toBe(
      'Make the sort faster without new dependencies.',
    );
    expect(await resolveObjective({ objective: 'speed' }, dir)).toBe('speed');
    expect(await resolveObjective({ objective: 'See program.md\nand be quick.' }, dir)).toBe('See program.md\nand be quick.');
  });

  it('reports a named file that is missing instead of taking its name as prose', async () => {
    const dir = await repo({ 'README.md': 'hi' });
    const issues = await issuesOfAsync(() => resolveObjective({ objective: 'program.md' }, dir));
    expect(lines(issues)).toEqual([`objective: file program.md not found in ${dir}`]);
  });

  it('reports an objective file that is empty or a folder', async () => {
    const dir = await repo({ 'program.md': '  \n', 'notes.md/a': 'x' });
    expect(lines(await issuesOfAsync(() => resolveObjective({ objective: 'program.md' }, dir)))).toEqual(['objective: file program.md is empty']);
    expect(lines(await issuesOfAsync(() => resolveObjective({ objective: 'notes.md' }, dir)))).toEqual([`objective: notes.md in ${dir} is not a file`]);
  });
});
