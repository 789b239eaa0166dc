/**
 * Who may use the dashboard: anyone on loopback, the token holder elsewhere; and a URL that
 * cannot be decoded is a 400. Real HTTP against a copy of the fixture run.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve, type DashboardServer } from '../../src/view/web/server.js';
import { spawnCli, waitFor } from '../helpers/cli.js';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'run-basic');
const RUN_ID = '2026-11-21-sort-a1b2';

let root: string;
const servers: DashboardServer[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ratchet-web-access-'));
  await cp(FIXTURE, join(root, RUN_ID), { recursive: true });
});

afterAll(async () => {
  for (const server of servers) await server.close();
  await rm(root, { recursive: true, force: true });
});

async function open(options: { host?: string; token?: string } = {}): Promise<DashboardServer> {
  const server = await serve({ experimentsRoot: root, port: 0, pollIntervalMs: 100, ...options });
  servers.push(server);
  return server;
}

async function get(server: DashboardServer, path: string, headers: Record<string, string> = {}): Promise<Response> {
  const res = await fetch(new URL(path, server.url), { headers, redirect: 'manual' });
  if (!path.endsWith('/events')) await res.arrayBuffer();
  return res;
}

/** A raw request, so the path is sent as written (fetch would re-encode it). */
function rawGet(server: DashboardServer, path: string): Promise<number> {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the dashboard off loopback', () => {
  it('answers 401 without its token, and prints a random one in its URL', async () => {
    const server = await open({ host: '0.0.0.0' });

    expect(server.token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(server.url).toMatch(new RegExp(`/\\?token=${server.token}$`));
    for (const path of ['/', '/api/runs', `/api/runs/${RUN_ID}`, `/api/runs/${RUN_ID}/events`, '/static/app.js']) {
      expect([path, (await get(server, path)).status]).toEqual([path, 401]);
    }
  });

  it('swaps the token in the URL for an HttpOnly, SameSite=Strict cookie that the API and the event stream accept', async () => {
    const server = await open({ host: '0.0.0.0' });

    const landing = await get(server, server.url);
    const cookie = landing.headers.get('set-cookie') ?? '';

    expect(landing.status).toBe(303);
    expect(landing.headers.get('location')).toBe('/');
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const sent = { cookie: cookie.split(';')[0]! };
    expect((await get(server, '/', sent)).status).toBe(200);
    expect((await get(server, '/api/runs', sent)).status).toBe(200);
    const controller = new AbortController();
    const stream = await fetch(new URL(`/api/runs/${RUN_ID}/events`, server.url), { headers: sent, signal: controller.signal });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    controller.abort();
  });

  it('takes the token a script sends in the query or as a bearer, and refuses a wrong one anywhere', async () => {
    const server = await open({ host: '0.0.0.0', token: 'a-token-given-by-the-user' });
    const port = new URL(server.url).port;

    expect(server.url).toMatch(/\?token=a-token-given-by-the-user$/);
    expect((await get(server, '/api/runs?token=a-token-given-by-the-user')).status).toBe(200);
    expect((await get(server, '/api/runs', { authorization: 'Bearer a-token-given-by-the-user' })).status).toBe(200);
    expect((await get(server, '/api/runs?token=a-token-given-by-the-use')).status).toBe(401);
    expect((await get(server, '/?token=wrong')).status).toBe(401);
    expect((await get(server, '/api/runs', { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await get(server, '/api/runs', { cookie: `ratchet_token_${port}=wrong` })).status).toBe(401);
  });
});

describe('the dashboard on loopback', () => {
  it('needs no token', async () => {
    const server = await open();

    expect(server.token).toBeUndefined();
    expect(server.url).toMatch(/\/$/);
    expect((await get(server, '/api/runs')).status).toBe(200);
  });
});

describe('a malformed URL', () => {
  it('gets 400, not 500, with or without a token', async () => {
    const local = await open();
    const remote = await open({ host: '0.0.0.0' });

    for (const server of [local, remote]) {
      for (const path of ['/api/runs/%E0%A4%A', '/api/runs/%', `/api/runs/${RUN_ID}/experiments/%ZZ`, '/static/%C0']) {
        expect([path, await rawGet(server, path)]).toEqual([path, 400]);
      }
    }
  });
});

describe('ratchet serve', () => {
  it('takes its token from RATCHET_DASHBOARD_TOKEN and prints it in the URL', async () => {
    const cli = spawnCli(['serve', '--experiments', root, '--host', '0.0.0.0', '--port', '0'], { env: { RATCHET_DASHBOARD_TOKEN: 'token-from-the-environment' } });
    try {
      await waitFor(() => cli.output().includes('ratchet dashboard:'), 30_000, 'the dashboard URL');
      const url = /ratchet dashboard: (\S+)/.exec(cli.output())![1]!;

      expect(url).toMatch(/\/\?token=token-from-the-environment$/);
      expect((await fetch(new URL('/api/runs', url))).status).toBe(401);
      expect((await fetch(new URL('/api/runs?token=token-from-the-environment', url))).status).toBe(200);
    } finally {
      cli.child.kill('SIGTERM');
      await cli.done;
    }
  }, 60_000);
});
