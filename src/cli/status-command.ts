import { Command, Option } from 'commander';
import { resolvePruneSettings, resolvePruneTarget, resolveStorageSettings, resolveTemporalSettings, PRUNE_DEFAULTS, type RawOptions } from '../config';
import { describeStatus, status } from '../client/status';
import { retentionRule } from '../workflows/retention-rule';
import { openStorage, withTemporalClient } from './connect';
import { runCommand } from './run';
import { prefixOption, withRetentionOptions, withStorageOptions, withTemporalOptions } from './options';

export function statusCommand(): Command {
  const cmd = new Command('status').description(
    'show the builds an app keeps, which one is live, what the next prune would delete, and the runs in flight (reads only)',
  );
  cmd
    .addOption(prefixOption('the app to show'))
    .addOption(new Option('--all', 'show every app in the bucket'))
    .addOption(new Option('--json', 'print one JSON document instead of text'));
  withTemporalOptions(withStorageOptions(withRetentionOptions(cmd, PRUNE_DEFAULTS.lockWait)));
  return cmd.action((options: RawOptions) => runCommand(() => runStatus(options)));
}

async function runStatus(options: RawOptions): Promise<void> {
  const target = resolvePruneTarget(options);
  // The prune the status predicts is the one these flags would run.
  const retention = resolvePruneSettings(options);
  const storageSettings = resolveStorageSettings(options);
  const temporal = resolveTemporalSettings(options);
  const storage = openStorage(storageSettings);
  await storage.checkAccess();
  const apps = await withTemporalClient(temporal, (client) => status(target, retentionRule(retention), { storage, client, bucket: storageSettings.bucket }));
  if (options.json === true) console.log(JSON.stringify({ bucket: storageSettings.bucket, apps }, null, 2));
  else for (const line of describeStatus(apps)) console.log(line);
  // Like prune --all: the readable apps are shown, and the run fails so the broken ones are noticed.
  const broken = apps.filter((a) => 'error' in a);
  if (broken.length > 0) throw new Error(`${broken.length} of ${apps.length} apps could not be read: ${broken.map((a) => a.app).join(', ')}`);
}
