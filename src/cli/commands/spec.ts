import type { Command } from 'commander';
import { createFromTemplate } from '../../app/targets.js';
import { initSpec } from '../../spec/init.js';
import { specJsonSchema } from '../../spec/json-schema.js';
import { out, printJson } from '../output.js';
import { collect } from './common.js';

export function registerSpecCommands(program: Command): void {
  program
    .command('schema')
    .description('print the JSON Schema of ratchet.yaml (for editors)')
    .action(() => printJson(specJsonSchema()));

  program
    .command('init')
    .description('write a ratchet.yaml for a repository, guessing its checks')
    .argument('[repo]', 'the repository', '.')
    .option('--from <template>', 'copy a target template (a bundled name such as tiny-lm, or a folder) into a new repository')
    .option('--force', 'overwrite an existing ratchet.yaml')
    .option('--objective <text>', 'what to improve')
    .option('--bench <command>', 'the command that prints the metric')
    .option('--metric <name>', 'the metric name')
    .option('--goal <goal>', 'minimize or maximize')
    .option('--check <command>', 'a check (repeatable; default: guessed)', collect)
    .option('--editable <glob>', 'a path the agent may change (repeatable)', collect)
    .option('--agent <kind>', 'the agent')
    .option('--agent-run <command>', 'command: the coding-agent CLI to run, with {prompt} or {prompt_file} (implies --agent command)')
    .option('--json', 'print JSON')
    .action(async (repo: string, o: { from?: string; force?: boolean; json?: boolean; objective?: string; bench?: string; metric?: string; goal?: string; check?: string[]; editable?: string[]; agent?: string; agentRun?: string }) => {
      const { force, json, from, ...rest } = o;
      if (from !== undefined) {
        const created = await createFromTemplate(from, repo);
        if (json) return printJson(created);
        out(`created ${created.dir} from ${created.template} (commit ${created.commit.slice(0, 7)})`);
        out(`  run it: ratchet run ${created.dir}`);
        return undefined;
      }
      const flags = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
      const result = await initSpec(repo, { flags, force: force === true });
      if (json) return printJson(result);
      out(`wrote ${result.path}`);
      for (const line of result.guessed) out(`  guessed: ${line}`);
      if (result.missing.length > 0) out(`  still to fill in: ${result.missing.join(', ')} (edit the file, or pass them as flags to ratchet run)`);
    });
}
