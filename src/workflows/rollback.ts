import { type ActivityOptions, defineQuery, patched, proxyActivities, setHandler, upsertMemo, workflowInfo } from '@temporalio/workflow';
import type { RollbackActivities } from '../activities/rollback';
import type { RollbackTarget } from '../rollback/types';
import { acquireAppLock } from './app-lock';
import { describeFailure, PERMANENT } from './failures';
import { attemptsOf } from './helpers';
import type { RollbackInput, RollbackResult } from './types';

export type RollbackPhase = 'waiting-for-prune' | 'checking' | 'restoring' | 'manifest' | 'done' | 'failed';

export const rollbackPhaseQuery = defineQuery<RollbackPhase>('phase');

/**
 * Brings an earlier build of an app back: checks that every file of it is in place or kept
 * under pushcache/builds/, restores those that differ (entry files last, fed-mods.json last of all), and
 * records a new manifest naming its files, so retention keeps them as the newest build.
 */
export async function RollbackWorkflow(input: RollbackInput): Promise<RollbackResult> {
  const options: ActivityOptions = {
    startToCloseTimeout: '10m',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', ...attemptsOf(input.maxAttempts), nonRetryableErrorTypes: [...PERMANENT, 'NotRestorable'] },
  };
  const acts = proxyActivities<RollbackActivities>(options);
  const { runId } = workflowInfo();
  const timestamp = Math.floor(workflowInfo().runStartTime.getTime() / 1000);
  let phase: RollbackPhase = 'waiting-for-prune';
  setHandler(rollbackPhaseQuery, () => phase);

  // Held shared, as a publish holds it: no prune may delete the files between the check and the
  // new manifest that names them.
  const lock = await describeFailure('taking the app lock', () => acquireAppLock(input.bucket, input.app, 'shared'));
  let turn;
  try {
    // A rollback makes a build live as a publish's go-live step does: one at a time per app, in
    // start order, and checked while no publish can change the files. Older runs replay without.
    if (patched('rollback-go-live')) turn = await describeFailure('waiting for the go-live turn', () => acquireAppLock(input.bucket, input.app, 'go-live'));
    phase = 'checking';
    const target: RollbackTarget = await describeFailure('checking the build to roll back to', () =>
      acts.checkRollbackTarget({ bucket: input.bucket, app: input.app, to: input.to }),
    );
    phase = 'restoring';
    // The restore now copies back every file that differs, which can take a while: it reports
    // progress, and a worker lost mid-restore is noticed within the heartbeat timeout rather
    // than the 10 minutes of its start-to-close timeout. Older runs replay without.
    const restoring = patched('20-rollback-any-build')
      ? proxyActivities<RollbackActivities>({ ...options, heartbeatTimeout: input.heartbeatTimeout ?? '30s' })
      : acts;
    const restored = await describeFailure('restoring the files', () =>
      restoring.restoreEntryFiles({ bucket: input.bucket, app: input.app, manifestKey: target.manifestKey, fromBuild: target.buildId, toBuild: runId }),
    );
    phase = 'manifest';
    const committed = await describeFailure('writing the manifest', () =>
      acts.commitRollbackManifest({
        bucket: input.bucket,
        app: input.app,
        manifestKey: target.manifestKey,
        publishId: runId,
        timestamp,
        cacheMaxAge: target.cacheMaxAge,
      }),
    );
    phase = 'done';
    const result: RollbackResult = { app: input.app, ...committed, target, restored: restored.files };
    upsertMemo({ result });
    return result;
  } catch (err) {
    phase = 'failed';
    throw err;
  } finally {
    await turn?.release();
    await lock?.release();
  }
}
