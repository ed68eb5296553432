import { rmSync } from 'node:fs';
import type { ServerProcess } from '../../src/dev/process';
import { ENV_FILE, testServers } from './servers';

export default async function globalTeardown(): Promise<void> {
  const processes = ((globalThis as Record<string, unknown>).__pushcacheServers ?? []) as ServerProcess[];
  await Promise.all(processes.map((p) => p.stop(5000)));
  if (!process.env.PUSHCACHE_KEEP_TEST_DATA) rmSync(testServers().dir, { recursive: true, force: true });
  rmSync(ENV_FILE, { force: true });
}
