/**
 * A redis-server that speaks TLS only, on a free TCP port of 127.0.0.1, with a self-signed
 * certificate made by openssl in a temporary folder. Both must be installed: a test that needs
 * them fails without them (CI installs what the tests need), it never skips.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';

export interface TlsRedis {
  port: number;
  /** The certificate, which is its own CA. */
  ca: string;
  password: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export async function startTlsRedis(): Promise<TlsRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'ratchet-tls-redis-'));
  const ca = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
    '-keyout', key, '-out', ca,
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ]);
  const port = await freePort();
  const password = randomBytes(16).toString('hex');
  const child = spawn('redis-server', ['-', '--port', '0', '--bind', '127.0.0.1', '--tls-port', String(port), '--tls-cert-file', ca, '--tls-key-file', key, '--tls-ca-cert-file', ca, '--tls-auth-clients', 'no', '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(`requirepass ${password}\n`);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    const client = new Redis({ host: 'localhost', port, password, tls: { servername: 'localhost', ca: await readFile(ca, 'utf8') }, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    client.on('error', () => undefined);
    const ok = await client.connect().then(() => client.ping(), () => undefined).catch(() => undefined);
    client.disconnect();
    if (ok === 'PONG') return { port, ca, password, stop };
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server with TLS did not start (is it built with TLS?): ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

