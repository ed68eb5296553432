import { accessSync, constants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export type ServerBinary = 'temporal' | 'minio';

/** Where `scripts/provision.sh` caches the servers it builds, shared by every clone on the machine. */
export function toolCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.PUSHCACHE_TOOLS_DIR ?? path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'pushcache', 'bin');
}

const repoRoot = path.resolve(__dirname, '..', '..');

/**
 * Finds a server binary: an explicit PUSHCACHE_<NAME>_BIN, then PATH (a user's own install
 * wins), then the repo's `.tools/bin`, then the shared tool cache.
 */
export function findBinary(name: ServerBinary, env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env[`PUSHCACHE_${name.toUpperCase()}_BIN`];
  // A binary named on purpose is the one to use: a wrong path is an error, not a hint.
  if (explicit && !isExecutable(explicit)) throw new Error(`PUSHCACHE_${name.toUpperCase()}_BIN=${explicit} is not an executable file`);
  const candidates = [
    ...(explicit ? [explicit] : []),
    ...(env.PATH ?? '').split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, name)),
    path.join(repoRoot, '.tools', 'bin', name),
    path.join(toolCacheDir(env), name),
  ];
  const found = candidates.find(isExecutable);
  if (!found) {
    throw new Error(
      `${name} not found on PATH, in .tools/bin or in ${toolCacheDir(env)}; run \`npm run provision\` (builds it with Go) or install it`,
    );
  }
  return found;
}

export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
