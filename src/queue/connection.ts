/**
 * Redis connection options: parsing `REDIS_URL` / `--redis`, the two connection profiles BullMQ
 * needs (workers wait out a Redis restart, producers fail fast), and a check of the server.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Redis, type RedisOptions as IoRedisOptions } from 'ioredis';
import { UserError } from '../domain/errors.js';

/** ioredis options that BullMQ also accepts (BullMQ's type has no `retryStrategy: null`). */
export type RedisOptions = Omit<IoRedisOptions, 'retryStrategy'> & { retryStrategy?: (times: number) => number | void | null };

const REACH_HINT = 'start it (docker compose up -d redis), fix REDIS_URL, or unset REDIS_URL to let ratchet start its own';
const URL_FORMS = 'redis://[user:password@]host[:port][/db], rediss://…[?ca=/path/to/ca.pem] (TLS), or redis+unix:///path/to/redis.sock';

/** The URL the user chose: the `--redis` flag, then `REDIS_URL`; undefined means "start our own". */
export function redisUrlFrom(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const chosen = flag ?? env['REDIS_URL'];
  return chosen === undefined || chosen.trim() === '' ? undefined : chosen.trim();
}

/**
 * `redis://`, `rediss://`, `redis+unix:///path` or `unix:///path` (a bare absolute path too) to
 * ioredis options. A unix URL takes `?db=N&password=…` since it has no host part to carry them.
 * `rediss://` verifies the server's certificate against the system's CAs, plus those of
 * `NODE_EXTRA_CA_CERTS` (Node reads it for every TLS connection), or only the CA file `?ca=`
 * names: a private CA for this Redis alone.
 */
export function parseRedisUrl(text: string): RedisOptions {
  if (text.startsWith('/')) return { path: text };
  let url: URL;
  try {
    url = new URL(text);
  } catch (cause) {
    throw new UserError(`cannot read the Redis URL ${JSON.stringify(redact(text))}`, { hint: `expected ${URL_FORMS}`, cause });
  }
  const options: RedisOptions = {};
  const username = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password) || (url.searchParams.get('password') ?? '');
  if (username !== '') options.username = username;
  if (password !== '') options.password = password;
  const db = url.searchParams.get('db') ?? (url.pathname.length > 1 && !isUnix(url) ? url.pathname.slice(1) : undefined);
  if (db !== undefined) {
    if (!/^\d+$/.test(db)) throw new UserError(`Redis database ${JSON.stringify(db)} is not a number`, { hint: `expected ${URL_FORMS}` });
    options.db = Number(db);
  }
  if (isUnix(url)) {
    const path = decodeURIComponent(url.pathname);
    if (path === '' || path === '/') throw new UserError(`the Redis URL ${JSON.stringify(redact(text))} names no socket`, { hint: `expected ${URL_FORMS}` });
    return { ...options, path };
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new UserError(`unsupported Redis URL scheme ${JSON.stringify(url.protocol)}`, { hint: `expected ${URL_FORMS}` });
  }
  options.host = url.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  options.port = url.port === '' ? 6379 : Number(url.port);
  const ca = url.searchParams.get('ca');
  if (url.protocol === 'rediss:') {
    // SNI names a host, never an address (RFC 6066); the certificate is checked against either.
    options.tls = { ...(isIP(options.host) === 0 ? { servername: options.host } : {}), ...(ca === null ? {} : { ca: readCa(ca) }) };
  } else if (ca !== null) {
    throw new UserError(`?ca= is for TLS, but ${JSON.stringify(redact(text))} is not a rediss:// URL`, { hint: `expected ${URL_FORMS}` });
  }
  return options;
}

function readCa(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    throw new UserError(`cannot read the CA file ${path} of the Redis URL`, { hint: 'give ?ca= the path of a PEM file', cause });
  }
}

function isUnix(url: URL): boolean {
  return url.protocol === 'redis+unix:' || url.protocol === 'unix:';
}

function redact(text: string): string {
  return text.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@').replace(/([?&]password=)[^&]*/g, '$1***');
}

/** Where the options point, without the password: for messages. */
export function describeRedis(options: RedisOptions): string {
  if (options.path !== undefined) return `unix://${options.path}`;
  const scheme = options.tls === undefined ? 'redis' : 'rediss';
  return `${scheme}://${options.host ?? '127.0.0.1'}:${options.port ?? 6379}${options.db ? `/${options.db}` : ''}`;
}

/** Workers and event listeners block on Redis and must wait out a restart, never give up. */
export function workerRedisOptions(base: RedisOptions): RedisOptions {
  return { ...base, maxRetriesPerRequest: null };
}

/** Producers fail fast, so a dead Redis is an error the user sees rather than a hang. */
export function producerRedisOptions(base: RedisOptions): RedisOptions {
  return { ...base, maxRetriesPerRequest: 1, enableOfflineQueue: false };
}

/** A connected client of our own (registry, cancel channel); BullMQ objects open theirs from options. */
export async function connectRedis(base: RedisOptions, role: 'worker' | 'producer'): Promise<Redis> {
  const options = role === 'worker' ? workerRedisOptions(base) : producerRedisOptions(base);
  const client = new Redis({ ...options, lazyConnect: true });
  const firstError = rememberFirstError(client);
  try {
    await client.connect();
  } catch (cause) {
    client.disconnect();
    throw new UserError(`cannot reach Redis at ${describeRedis(base)}: ${firstError() ?? messageOf(cause)}`, {
      hint: REACH_HINT,
      cause,
    });
  }
  return client;
}

/**
 * ioredis rejects connect() with a bare "Connection is closed" and emits the cause (a refused
 * TLS certificate, a wrong password) as an `error` event; the first one is what the user needs.
 */
function rememberFirstError(client: Redis): () => string | undefined {
  let first: string | undefined;
  const listener = (error: Error): void => {
    first ??= error.message;
  };
  client.on('error', listener);
  return () => first;
}

function messageOf(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

export interface RedisServerCheck {
  version: string;
  maxmemoryPolicy: string;
  /** Problems that do not stop a run, as lines for the user. */
  warnings: string[];
}

/**
 * Connects once and checks that BullMQ can trust the server. An eviction policy other than
 * `noeviction` with a memory limit is an error: Redis would silently drop job locks and jobs
 * when full. Without a limit nothing is ever evicted, so the same policy is only a warning.
 */
export async function checkRedisServer(base: RedisOptions, options: { timeoutMs?: number } = {}): Promise<RedisServerCheck> {
  const where = describeRedis(base);
  const client = new Redis({
    ...base,
    lazyConnect: true,
    connectTimeout: options.timeoutMs ?? 5000,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
  });
  const firstError = rememberFirstError(client); // surfaced through connect()'s rejection instead
  try {
    try {
      await client.connect();
    } catch (cause) {
      throw new UserError(`cannot reach Redis at ${where}: ${firstError() ?? messageOf(cause)}`, {
        hint: REACH_HINT,
        cause,
        fields: { redis: where },
      });
    }
    const info = parseInfo(await client.info());
    const version = info.get('redis_version') ?? 'unknown';
    const maxmemoryPolicy = info.get('maxmemory_policy') ?? 'unknown';
    const maxmemory = Number(info.get('maxmemory') ?? '0');
    const warnings: string[] = [];
    if (maxmemoryPolicy !== 'noeviction') {
      const fix = `redis-cli CONFIG SET maxmemory-policy noeviction (and set it in redis.conf)`;
      if (maxmemory > 0) {
        throw new UserError(`Redis at ${where} may evict keys (maxmemory-policy ${maxmemoryPolicy}): jobs and their locks could vanish`, {
          hint: fix,
          fields: { redis: where, maxmemoryPolicy, maxmemory },
        });
      }
      warnings.push(`Redis at ${where} has maxmemory-policy ${maxmemoryPolicy}; harmless without a memory limit, but set noeviction: ${fix}`);
    }
    return { version, maxmemoryPolicy, warnings };
  } finally {
    client.disconnect();
  }
}

function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) fields.set(line.slice(0, at), line.slice(at + 1).trim());
  }
  return fields;
}
