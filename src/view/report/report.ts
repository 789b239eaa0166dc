/**
 * `ratchet report`: the progress chart as a file (SVG, or PNG rasterised from the same SVG) and a
 * markdown summary of the run.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, extname, relative, resolve } from 'node:path';
import { UserError } from '../../domain/errors.js';
import { writeFileAtomic } from '../../store/atomic.js';
import { readRunEvents, readRunInfo } from '../../store/run-dir.js';
import { foldEvents } from '../../plan/fold.js';
import { renderProgressSvg } from '../chart/svg.js';
import { svgToPng } from './png.js';
import { renderReportMarkdown } from './summary.js';

export interface ReportOptions {
  /** The run folder, `experiments/<run>/`. */
  runDir: string;
  /** Where to write the chart: a path ending in `.svg` or `.png`. */
  out?: string;
  /** Where to write the markdown summary. */
  md?: string;
  /** Chart size in CSS pixels (a PNG is rendered at twice this). */
  width?: number;
  height?: number;
}

export interface ReportResult {
  markdown: string;
  /** Absolute path of the chart written, when `out` was given. */
  chartPath?: string;
  /** Absolute path of the markdown written, when `md` was given. */
  mdPath?: string;
}

function chartFormat(path: string): 'svg' | 'png' {
  const ext = extname(path).toLowerCase();
  if (ext === '.svg' || ext === '.png') return ext === '.svg' ? 'svg' : 'png';
  throw new UserError(`cannot write the chart as "${ext || path}"`, { hint: 'give a path ending in .svg or .png, such as progress.svg' });
}

async function write(path: string, content: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, content);
}

export async function report(options: ReportOptions): Promise<ReportResult> {
  const dir = resolve(options.runDir);
  // Validate the output format before any work, so a typo fails fast.
  const format = options.out === undefined ? undefined : chartFormat(options.out);
  const info = await readRunInfo(dir);
  const state = foldEvents(info.runId, await readRunEvents(dir));
  const result: Omit<ReportResult, 'markdown'> = {};

  if (options.out !== undefined && format !== undefined) {
    const chartPath = resolve(options.out);
    const svg = renderProgressSvg(state, info, { width: options.width, height: options.height });
    await write(chartPath, format === 'svg' ? svg : await svgToPng(svg));
    result.chartPath = chartPath;
  }

  const mdPath = options.md === undefined ? undefined : resolve(options.md);
  const chartHref =
    result.chartPath === undefined ? undefined : relative(mdPath === undefined ? process.cwd() : dirname(mdPath), result.chartPath).split('\\').join('/');
  const markdown = renderReportMarkdown(state, info, chartHref === undefined ? {} : { chartHref });
  if (mdPath !== undefined) {
    await write(mdPath, markdown);
    result.mdPath = mdPath;
  }
  return { markdown, ...result };
}
