import { requiredAppName } from '../config';

/** What a request asks for; app names are already validated with the CLI's own schema. */
export type Route =
  | { page: 'overview'; format: 'html' | 'json' }
  | { page: 'app'; app: string; format: 'html' | 'json' }
  | { page: 'not-found' }
  | { page: 'bad-method' };

const APP_NAME = requiredAppName();

/** The app segment of a path, decoded once; anything `--prefix` would refuse (`..`, `/`, `%2F`) is no app. */
function appSegment(segment: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    return undefined;
  }
  const parsed = APP_NAME.safeParse(decoded);
  return parsed.success ? parsed.data : undefined;
}

/**
 * `/` and `/apps/<app>` (HTML), `/api/v1/apps` and `/api/v1/apps/<app>` (JSON). Only GET and HEAD:
 * the page is read-only. A trailing slash is tolerated; the query string is ignored.
 */
export function route(method: string | undefined, url: string | undefined): Route {
  if (method !== 'GET' && method !== 'HEAD') return { page: 'bad-method' };
  const path = (url ?? '/').split(/[?#]/)[0];
  const parts = path.split('/').slice(1);
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  if (parts.length === 1 && parts[0] === '') return { page: 'overview', format: 'html' };
  if (parts.length === 2 && parts[0] === 'apps') {
    const app = appSegment(parts[1]);
    return app ? { page: 'app', app, format: 'html' } : { page: 'not-found' };
  }
  if (parts.length >= 3 && parts[0] === 'api' && parts[1] === 'v1' && parts[2] === 'apps') {
    if (parts.length === 3) return { page: 'overview', format: 'json' };
    const app = parts.length === 4 ? appSegment(parts[3]) : undefined;
    return app ? { page: 'app', app, format: 'json' } : { page: 'not-found' };
  }
  return { page: 'not-found' };
}
