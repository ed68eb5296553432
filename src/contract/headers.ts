import mime from 'mime-types';

/** Types other systems already rely on; they win over the general table. */
const CONTRACT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'application/javascript',
  '.woff2': 'font/woff2',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.json': 'application/json',
};

/** Types where the general table disagrees with what browsers expect of a frontend build. */
const OVERRIDES: Readonly<Record<string, string>> = {
  '.mjs': 'application/javascript',
  '.cjs': 'application/javascript',
  '.map': 'application/json',
};

export function contentType(relpath: string): string {
  const base = relpath.slice(relpath.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  if (dot <= 0 && !base.startsWith('.')) return 'application/octet-stream';
  const ext = base.slice(dot).toLowerCase();
  return CONTRACT_TYPES[ext] ?? OVERRIDES[ext] ?? (mime.contentType(ext) || 'application/octet-stream');
}

/** Entry files must be revalidated quickly: they decide which hashed chunks a browser loads. */
const SHORT_LIVED_SUFFIXES = ['index.html', 'fed-mods.json', 'app-info.json', 'app-info.deps.json'];
export const SHORT_LIVED_CACHE_CONTROL = 'public, max-age=60, stale-while-revalidate=300';

/** Files browsers revalidate within a minute: what they say takes effect at once. */
export function isShortLived(relpath: string): boolean {
  return SHORT_LIVED_SUFFIXES.some((suffix) => relpath.endsWith(suffix));
}

/** valpop's Cache-Control max-age of hashed assets (-g), in seconds; also what builds that did not record theirs get. */
export const DEFAULT_CACHE_MAX_AGE = 86400;

export function cacheControl(relpath: string, cacheMaxAge: number): string {
  return isShortLived(relpath)
    ? SHORT_LIVED_CACHE_CONTROL
    : `public, max-age=${cacheMaxAge}`;
}
