import { Command, Option } from 'commander';
import { resolvePopSettings, resolveStorageSettings, type RawOptions } from '../config';
import { pop } from '../client/pop';
import { currentLog, reportTo } from '../telemetry/log';
import { openStorage } from './connect';
import { runCommand } from './run';
import { prefixOption, withStorageOptions, withTemporalOptions } from './options';

export function popCommand(): Command {
  const cmd = new Command('pop').description("write the live build of an app (the files of its newest manifest) into a directory, checking each file's sha256");
  cmd
    .addOption(prefixOption('the app to write out (required)'))
    .addOption(new Option('-d, --dest <dir>', 'directory to write into, created if missing; other files in it are left alone (required)').env('VALPOP_DEST'));
  // Accepted like every command's, so one environment serves them all, though pop needs no Temporal.
  withTemporalOptions(withStorageOptions(cmd));
  return cmd.action((options: RawOptions) => runCommand(() => runPop(options)));
}

async function runPop(options: RawOptions): Promise<void> {
  const settings = resolvePopSettings(options);
  // Reads only the bucket: no Temporal connection is needed.
  const storage = openStorage(resolveStorageSettings(options));
  await pop(settings, { storage, report: reportTo(currentLog()) });
}
