import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { PREBUILT_BUNDLE } from './shared-worker';

/**
 * Replays saved workflow histories (JSON from `temporal workflow show -o json`, plus a
 * top-level "workflowId") against the built workflow code; exits non-zero when one no longer
 * replays. Usage:
 *   node dist/worker/replay-histories.js test/histories/*.json
 */
async function main(files: string[]): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  let failed = 0;
  for (const file of files) {
    try {
      const { workflowId, ...history } = JSON.parse(readFileSync(file, 'utf8')) as { workflowId?: string };
      // Workflows derive child IDs and lock tokens from their own ID, so replay under the real one.
      await Worker.runReplayHistory({ workflowBundle: { codePath: PREBUILT_BUNDLE } }, history, workflowId ?? path.basename(file));
      console.log(`replayed ${file}`);
    } catch (err) {
      failed++;
      console.error(`FAILED ${file}: ${(err as Error).message}`);
    }
  }
  if (failed > 0 || files.length === 0) process.exit(1);
}

void main(process.argv.slice(2));
