import { Command, Option } from 'commander';
import { resolvePruneSettings, resolvePruneTarget, resolveStorageSettings, resolveTemporalSettings, type RawOptions } from '../config';
import { prune } from '../client/prune';
import { currentLog, reportTo } from '../telemetry/log';
import { openStorage, withTemporalClient } from './connect';
import { runCommand } from './run';
import { prefixOption, withPruneOptions, withStorageOptions, withTemporalOptions } from './options';

export function pruneCommand(): Command {
  const cmd = new Command('prune').description('delete aged-out builds of one app (--prefix) or of every app (--all) through a PruneWorkflow');
  cmd
    .addOption(prefixOption('the app to prune'))
    .addOption(new Option('--all', 'prune every app in the bucket'))
    .addOption(new Option('--dry-run', 'print what would be deleted and why; delete nothing'));
  withTemporalOptions(withStorageOptions(withPruneOptions(cmd)));
  return cmd.action((options: RawOptions) => runCommand(() => runPrune(options)));
}

async function runPrune(options: RawOptions): Promise<void> {
  const settings = resolvePruneSettings(options);
  const target = resolvePruneTarget(options);
  const storageSettings = resolveStorageSettings(options);
  const temporal = resolveTemporalSettings(options);
  // Wrong credentials or a missing bucket are reported here, before a workflow is started.
  await openStorage(storageSettings).checkAccess();
  await withTemporalClient(temporal, (client) =>
    prune(settings, target, { client, bucket: storageSettings.bucket, temporal, report: reportTo(currentLog()) }),
  );
}
