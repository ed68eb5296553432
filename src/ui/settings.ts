import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { Env, ListenAddress, RawOptions } from '../config';
import { ConfigError } from '../errors';

/** Where and how the worker serves the status page; undefined settings mean it is off. */
export interface StatusPageSettings {
  listen: ListenAddress;
  /** Bearer token every request must carry; undefined leaves the page open (bound to 127.0.0.1 by default). */
  token?: string;
  /** Host names it answers to besides loopback ones, when open on loopback (see hostAllowed). */
  allowedHosts: string[];
  /** How long a listing of the bucket is reused before it is read again. */
  cacheMs: number;
}

export const STATUS_PAGE_DEFAULTS = { host: '127.0.0.1', cacheSeconds: '5' } as const;

/** A token shorter than this is a password someone can guess, not a secret. */
const MIN_TOKEN_LENGTH = 16;

const whole = (flag: string, min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `${flag} must be a whole number`)
    .transform(Number)
    .pipe(z.number().min(min, `${flag} must be >= ${min}`).max(max, `${flag} must be <= ${max}`));

const StatusPageSchema = z.object({
  port: whole('--ui-port', 0, 65535),
  // A name or an address: node's HTTP server resolves it, unlike the SDK's metrics exporter.
  host: z.string().trim().min(1, '--ui-host is empty').regex(/^[A-Za-z0-9.:-]+$/, '--ui-host must be an IP address or a host name'),
  token: z.string().min(MIN_TOKEN_LENGTH, `the status page token (--ui-token-file / PUSHCACHE_UI_TOKEN) must be at least ${MIN_TOKEN_LENGTH} characters`).optional(),
  cacheSeconds: whole('--ui-cache-seconds', 0, 3600),
  allowedHosts: z
    .string()
    .transform((s) => s.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^[a-z0-9.-]+$/, '--ui-allowed-hosts takes host names separated by commas, without ports'))),
});

const first = (...values: Array<string | boolean | undefined>): string | undefined => {
  for (const v of values) if (typeof v === 'string' && v !== '') return v;
  return undefined;
};

/** `--ui-port` (off unless given), `--ui-host`, `--ui-token-file` / PUSHCACHE_UI_TOKEN, `--ui-allowed-hosts`, `--ui-cache-seconds`. */
export function resolveStatusPageSettings(options: RawOptions, env: Env = process.env): StatusPageSettings | undefined {
  const port = first(options.uiPort);
  if (port === undefined) return undefined;
  const tokenFile = first(options.uiTokenFile);
  const result = StatusPageSchema.safeParse({
    port,
    host: first(options.uiHost) ?? STATUS_PAGE_DEFAULTS.host,
    token: tokenFile !== undefined ? readToken(tokenFile) : first(env.PUSHCACHE_UI_TOKEN)?.trim(),
    cacheSeconds: first(options.uiCacheSeconds) ?? STATUS_PAGE_DEFAULTS.cacheSeconds,
    allowedHosts: first(options.uiAllowedHosts) ?? '',
  });
  if (!result.success) throw new ConfigError(result.error.issues.map((i) => i.message));
  const s = result.data;
  return { listen: { host: s.host, port: s.port }, ...(s.token !== undefined ? { token: s.token } : {}), allowedHosts: s.allowedHosts, cacheMs: s.cacheSeconds * 1000 };
}

/** A mounted Secret: surrounding whitespace and the trailing newline are not part of the token. */
function readToken(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new ConfigError([`--ui-token-file: cannot read ${file} (${(err as NodeJS.ErrnoException).code})`]);
  }
}
