import { Command, Option } from 'commander';
import { DEFAULT_MAX_ATTEMPTS, resolveStorageSettings, resolveTemporalSettings, type RawOptions } from '../config';
import { rollback } from '../client/rollback';
import { resolveRollbackSettings } from '../rollback/settings';
import { currentLog, reportTo } from '../telemetry/log';
import { openStorage, withTemporalClient } from './connect';
import { runCommand } from './run';
import { prefixOption, withStorageOptions, withTemporalOptions } from './options';

export function rollbackCommand(): Command {
  const cmd = new Command('rollback').description(
    "make an earlier build of an app live again through a RollbackWorkflow: checks all its files are still in place, restores its entry files, records a new manifest",
  );
  cmd
    .addOption(prefixOption('the app to roll back'))
    .addOption(new Option('--to <timestamp|image>', 'the build: its manifest timestamp, or the image it was published from (the newest build with it)'))
    .addOption(new Option('--max-attempts <n>', `attempts per step before the rollback fails, 0 = unlimited (default ${DEFAULT_MAX_ATTEMPTS})`).env('PUSHCACHE_MAX_ATTEMPTS'));
  withTemporalOptions(withStorageOptions(cmd));
  return cmd.action((options: RawOptions) => runCommand(() => runRollback(options)));
}

async function runRollback(options: RawOptions): Promise<void> {
  const settings = resolveRollbackSettings(options);
  const storageSettings = resolveStorageSettings(options);
  const temporal = resolveTemporalSettings(options);
  // Wrong credentials or a missing bucket are reported here, before a workflow is started.
  await openStorage(storageSettings).checkAccess();
  await withTemporalClient(temporal, (client) =>
    rollback(settings, { client, bucket: storageSettings.bucket, temporal, report: reportTo(currentLog()) }),
  );
}
