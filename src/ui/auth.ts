import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

/** Whether the page listens on a loopback address, where only this machine's browsers reach it. */
export function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase().replace(/^\[|\]$/g, '');
  return name === 'localhost' || name === '::1' || (isIP(name) === 4 && name.startsWith('127.'));
}

/**
 * Whether a request's Host header names this machine's loopback (`localhost`, `*.localhost`,
 * `127.x.x.x`, `[::1]`, any port) or one of `allowed` (names, compared without the port). A page
 * open on loopback without a token refuses every other name: a web page of some domain that its
 * owner re-points at 127.0.0.1 (DNS rebinding) would otherwise read the page from a browser on
 * this machine as its own origin. `allowed` names a proxy in front that keeps the Host it was asked for.
 */
export function hostAllowed(header: string | undefined, allowed: readonly string[]): boolean {
  if (!header) return false;
  const name = (header.startsWith('[') ? header.slice(0, header.indexOf(']') + 1) : header.replace(/:\d*$/, '')).toLowerCase();
  // Browsers resolve *.localhost to loopback themselves, never through DNS.
  return isLoopbackHost(name) || name.endsWith('.localhost') || allowed.includes(name);
}

/**
 * Whether an Authorization header carries the token. Both sides are hashed first so that the
 * comparison takes the same time whatever the length or content of the guess.
 */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
  const given = createHash('sha256').update(m ? m[1] : '').digest();
  const expected = createHash('sha256').update(token).digest();
  return timingSafeEqual(given, expected) && m !== null;
}
