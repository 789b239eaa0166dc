/**
 * `ratchet serve`: a local dashboard for every run of a catalog (an experiments folder, or every
 * run started on this machine). node:http and a small JSON API; the page is static files plus
 * library files from node_modules.
 *
 *   GET /api/runs                           every run, newest first (RunSummary[])
 *   GET /api/runs/:run                      one run: summary, experiments, chart data
 *   GET /api/runs/:run/chart.svg            the progress chart (?from=&to=&width=&height=)
 *   GET /api/runs/:run/experiments/:exp     one experiment: result.json, diff, log tails
 *   GET /api/runs/:run/events               server-sent events: each new line of events.jsonl
 *
 * Off loopback every request needs the dashboard's token (access.ts). A path that cannot be
 * decoded is the client's mistake: 400, not 500.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UserError } from '../../domain/errors.js';
import { folderCatalog, type RunCatalog } from '../../store/run-catalog.js';
import { renderProgressData, type ChartOptions } from '../chart/svg.js';
import { admit, dashboardToken, isLoopback } from './access.js';
import { experimentDetail, listRuns, loadRun, NotFoundError, runDetail, runFolder } from './api.js';
import { staticAsset, vendorAsset, type Asset } from './assets.js';
import { LiveHub } from './live.js';
import { progressData } from '../chart/progress-data.js';

export const DEFAULT_PORT = 8740;

export interface ServeOptions {
  /** The folder holding one folder per run; or `runs`, which wins. */
  experimentsRoot?: string;
  /** Where the runs are (`ratchet serve` without --experiments: every run started on this machine). */
  runs?: RunCatalog;
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  /** How often events.jsonl is checked besides fs.watch notifications. */
  pollIntervalMs?: number;
  /**
   * The token every request must carry (access.ts). Without one, a loopback server needs none
   * and any other gets a random one, in `url`.
   */
  token?: string;
  /** Closes the server when aborted. */
  signal?: AbortSignal;
}

export interface DashboardServer {
  /** Where to open it; with `?token=…` when it needs one. */
  url: string;
  token: string | undefined;
  close(): Promise<void>;
}
const CSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'";

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...extra });
  res.end(body);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body));
}

function asset(res: ServerResponse, found: Asset | undefined): void {
  if (found === undefined) json(res, 404, { error: 'not found' });
  else send(res, 200, found.type, found.body, found.type.startsWith('text/html') ? { 'content-security-policy': CSP } : {});
}

function numberParam(params: URLSearchParams, name: string): number | undefined {
  const raw = params.get(name);
  if (raw === null || raw === '') return undefined;
  const value = Number(raw);
  return Number.isFinite(value) ? value : undefined;
}

function chartOptions(params: URLSearchParams): ChartOptions {
  const clamp = (v: number | undefined, lo: number, hi: number): number | undefined => (v === undefined ? undefined : Math.min(hi, Math.max(lo, v)));
  const options: ChartOptions = {};
  const from = numberParam(params, 'from');
  const to = numberParam(params, 'to');
  const width = clamp(numberParam(params, 'width'), 320, 4000);
  const height = clamp(numberParam(params, 'height'), 240, 3000);
  if (from !== undefined) options.from = from;
  if (to !== undefined) options.to = to;
  if (width !== undefined) options.width = width;
  if (height !== undefined) options.height = height;
  return options;
}

/** Refuse pages served under another name (DNS rebinding) when bound to loopback. */
function hostAllowed(req: IncomingMessage, host: string): boolean {
  if (!isLoopback(host)) return true;
  const header = req.headers.host ?? '';
  const name = header.startsWith('[') ? header.slice(0, header.indexOf(']') + 1) : header.split(':')[0] ?? '';
  return isLoopback(name);
}

/** The request's URL and decoded path segments, or undefined when it cannot be read. */
function readTarget(req: IncomingMessage): { url: URL; parts: string[] } | undefined {
  try {
    const url = new URL(req.url ?? '/', 'http://localhost');
    return { url, parts: url.pathname.split('/').filter((p) => p !== '').map(decodeURIComponent) };
  } catch {
    return undefined; // URIError (bad percent-encoding) or TypeError (no URL at all)
  }
}

async function route(url: URL, parts: string[], res: ServerResponse, root: RunCatalog, hub: LiveHub): Promise<void> {
  const [head, second, runId, sub, exp] = parts;

  if (parts.length === 0 || url.pathname === '/index.html') return asset(res, await staticAsset('index.html'));
  if (head === 'static' && second !== undefined && parts.length === 2) return asset(res, await staticAsset(second));
  if (head === 'vendor' && second !== undefined && parts.length === 2) return asset(res, await vendorAsset(second));
  if (head !== 'api' || second !== 'runs') return json(res, 404, { error: 'not found' });

  if (runId === undefined) return json(res, 200, { runs: await listRuns(root) });
  if (sub === undefined) return json(res, 200, await runDetail(root, runId));
  if (sub === 'chart.svg' && exp === undefined) {
    const { info, state } = await loadRun(root, runId);
    return send(res, 200, 'image/svg+xml; charset=utf-8', renderProgressData(progressData(state, info), chartOptions(url.searchParams)));
  }
  if (sub === 'experiments' && exp !== undefined && parts.length === 5) return json(res, 200, await experimentDetail(root, runId, exp));
  if (sub === 'events' && exp === undefined) {
    await loadRun(root, runId); // 404 before the stream opens
    return hub.subscribe(runId, await runFolder(root, runId), res);
  }
  return json(res, 404, { error: 'not found' });
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((done, fail) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      if (error.code === 'EADDRINUSE' || error.code === 'EACCES') {
        fail(new UserError(`cannot listen on ${host}:${port} (${error.code})`, { hint: 'choose another port with --port, or --port 0 for any free one' }));
      } else {
        fail(error);
      }
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      done();
    });
  });
}

export async function serve(options: ServeOptions): Promise<DashboardServer> {
  const root = options.runs ?? folderCatalog(options.experimentsRoot ?? 'experiments');
  const host = options.host ?? '127.0.0.1';
  const token = dashboardToken(host, options.token);
  const hub = new LiveHub(options.pollIntervalMs ?? 1000);
  const server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'method not allowed' });
    if (!hostAllowed(req, host)) return json(res, 403, { error: 'unexpected Host header' });
    const target = readTarget(req);
    if (target === undefined) return json(res, 400, { error: 'malformed URL' });
    const admission = admit(req, target.url, token);
    if (admission.kind === 'denied') return json(res, 401, { error: 'this dashboard needs its token: open the URL `ratchet serve` printed (…/?token=…)' });
    if (admission.kind === 'grant') return send(res, 303, 'text/plain; charset=utf-8', '', { location: admission.location, 'set-cookie': admission.cookie });
    route(target.url, target.parts, res, root, hub).catch((error: unknown) => {
      if (res.headersSent) {
        res.end();
        return;
      }
      if (error instanceof NotFoundError) json(res, 404, { error: error.message });
      else if (error instanceof UserError) json(res, 422, { error: error.message });
      else json(res, 500, { error: error instanceof Error ? error.message : String(error) });
    });
  });
  await listen(server, options.port ?? DEFAULT_PORT, host);
  const { port } = server.address() as AddressInfo;
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((done) => {
      hub.close();
      server.close(() => done());
      // Event streams never end on their own.
      server.closeAllConnections();
    });
    return closing;
  };
  if (options.signal?.aborted) await close();
  else options.signal?.addEventListener('abort', () => void close(), { once: true });
  const query = token === undefined ? '' : `?token=${encodeURIComponent(token)}`;
  return { url: `http://${shown}:${port}/${query}`, token, close };
}
