/**
 * Who may use the dashboard. On a loopback address, anyone on this machine (as before); bound
 * to any other address, whoever holds its token, since the page shows patches, logs and the
 * run's objective to the whole network otherwise. The token arrives once in the URL
 * (`/?token=…`), is swapped for an HttpOnly, SameSite=Strict cookie and dropped from the address
 * bar; the page's own requests (fetch, EventSource) then carry the cookie. Scripts may send
 * `?token=` or `Authorization: Bearer` on any request instead.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host);
}

/** The token a server on `host` asks for: the one given, a new one off loopback, else none. */
export function dashboardToken(host: string, given: string | undefined): string | undefined {
  if (given !== undefined && given.trim() !== '') return given.trim();
  return isLoopback(host) ? undefined : randomBytes(24).toString('base64url');
}

export type Admission =
  | { kind: 'allowed' }
  | { kind: 'denied' }
  /** The page opened with the right `?token=`: set the cookie and go to `location` without it. */
  | { kind: 'grant'; cookie: string; location: string };

/** One cookie per port: two dashboards on one host do not overwrite each other's. */
function cookieName(req: IncomingMessage): string {
  return `ratchet_token_${req.socket.localPort ?? 0}`;
}

export function admit(req: IncomingMessage, url: URL, token: string | undefined): Admission {
  if (token === undefined) return { kind: 'allowed' };
  const fromQuery = url.searchParams.get('token');
  if (fromQuery !== null && same(fromQuery, token)) {
    if (url.pathname !== '/' && url.pathname !== '/index.html') return { kind: 'allowed' };
    url.searchParams.delete('token');
    const cookie = `${cookieName(req)}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict`;
    return { kind: 'grant', cookie, location: `${url.pathname}${url.search}` };
  }
  const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
  const cookie = readCookie(req.headers.cookie ?? '', cookieName(req));
  return (bearer !== undefined && same(bearer, token)) || (cookie !== undefined && same(cookie, token)) ? { kind: 'allowed' } : { kind: 'denied' };
}

function readCookie(header: string, name: string): string | undefined {
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) {
      try {
        return decodeURIComponent(part.slice(at + 1).trim());
      } catch {
        return undefined; // a cookie that is not ours
      }
    }
  }
  return undefined;
}

/** Constant time whatever the lengths: the digests are compared, never the texts. */
function same(given: string, token: string): boolean {
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(token));
}
