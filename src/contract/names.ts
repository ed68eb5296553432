import { InvalidNameError } from '../errors';

/**
 * App names become one key segment (`data/<app>/`), so they may not contain a separator or
 * anything that a reader could resolve to another prefix.
 */
const APP_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function validateAppName(app: string): string {
  if (app === '') throw new InvalidNameError('app name (--prefix) is empty');
  if (!APP_NAME.test(app) || app.includes('..')) {
    throw new InvalidNameError(
      `app name ${JSON.stringify(app)} is not allowed: use letters, digits, '.', '_' and '-', ` +
        `starting with a letter or digit, no '..' and no '/' (at most 128 characters)`,
    );
  }
  return app;
}

// Control characters break keys in listings and headers; everything else S3 accepts is kept.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** A relpath is `/`-separated, relative, and every segment names a real child. */
export function validateRelPath(relpath: string): string {
  const problem = relPathProblem(relpath);
  if (problem) throw new InvalidNameError(`file path ${JSON.stringify(relpath)} ${problem}`);
  return relpath;
}

export function relPathProblem(relpath: string): string | undefined {
  if (relpath === '') return 'is empty';
  if (relpath.startsWith('/')) return 'is absolute';
  if (relpath.includes('\\')) return "contains '\\'";
  if (CONTROL.test(relpath)) return 'contains a control character';
  if (Buffer.byteLength(relpath) > 900) return 'is longer than 900 bytes (S3 keys stop at 1024)';
  for (const segment of relpath.split('/')) {
    if (segment === '') return 'has an empty segment';
    if (segment === '.' || segment === '..') return `has a '${segment}' segment`;
  }
  return undefined;
}
