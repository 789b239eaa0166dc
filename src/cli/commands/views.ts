import type { Command } from 'commander';
import { chooseRun, runCatalog } from '../../app/runs.js';
import { report } from '../../view/report/report.js';
import { serve } from '../../view/web/server.js';
import { out, printJson } from '../output.js';
import { interruptOnSignals } from '../signals.js';
import { experimentsOption, intArg, runsWhere } from './common.js';

export function registerViews(program: Command): void {
  program
    .command('serve')
    .description('serve the dashboard of every run (chart, table, diffs, live): those in the experiments folder, or all started on this machine')
    .addOption(experimentsOption())
    .option('--port <n>', 'the port (0 for any free one)', intArg, 8740)
    .option('--host <host>', 'the address to bind; keep it local unless you mean to share', '127.0.0.1')
    .option('--token <token>', 'the token every request needs (default: RATCHET_DASHBOARD_TOKEN; off loopback, a random one)')
    .action(async (o: { experiments?: string; port: number; host: string; token?: string }) => {
      const interrupt = interruptOnSignals();
      const token = o.token ?? process.env['RATCHET_DASHBOARD_TOKEN'];
      const server = await serve({ runs: runCatalog(runsWhere(o)), port: o.port, host: o.host, signal: interrupt.signal, ...(token === undefined ? {} : { token }) });
      out(`ratchet dashboard: ${server.url}  (Ctrl-C to stop)`);
      await new Promise<void>((resolve) => interrupt.signal.addEventListener('abort', () => resolve(), { once: true }));
      await server.close();
      interrupt.dispose();
    });

  program
    .command('report')
    .description('the progress chart as a file and a markdown summary of a run')
    .argument('[run]', 'the run id (default: the latest)')
    .addOption(experimentsOption())
    .option('--out <file>', 'write the chart: progress.svg or progress.png')
    .option('--md <file>', 'write the markdown summary to a file instead of printing it')
    .option('--json', 'print JSON')
    .action(async (runArg: string | undefined, o: { experiments?: string; out?: string; md?: string; json?: boolean }) => {
      const { dir } = await chooseRun(runArg, runsWhere(o));
      const result = await report({ runDir: dir, ...(o.out ? { out: o.out } : {}), ...(o.md ? { md: o.md } : {}) });
      if (o.json) return printJson(result);
      if (o.md === undefined) out(result.markdown);
      if (result.chartPath) out(`chart: ${result.chartPath}`);
      if (result.mdPath) out(`summary: ${result.mdPath}`);
      return undefined;
    });
}
