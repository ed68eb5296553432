import { Command, Option } from 'commander';
import { DEFAULT_MAX_ATTEMPTS, PRUNE_DEFAULTS, resolvePruneTarget, resolveStorageSettings, resolveTemporalSettings, type RawOptions } from '../config';
import { audit, AuditProblemsError } from '../client/audit';
import { currentLog, reportTo } from '../telemetry/log';
import { openStorage, withTemporalClient } from './connect';
import { runCommand } from './run';
import { prefixOption, withStorageOptions, withTemporalOptions } from './options';

export function auditCommand(): Command {
  const cmd = new Command('audit').description('check that the retained builds of one app (--prefix) or of every app (--all) are whole in the bucket, through an AuditWorkflow; exits 1 on a problem');
  cmd
    .addOption(prefixOption('the app to audit'))
    .addOption(new Option('--all', 'audit every app in the bucket'))
    .addOption(new Option('--repair', "put the newest build's entry files back from its copies (as a rollback does) when they are what is missing or damaged; otherwise name the build to publish again"))
    .addOption(new Option('--json', 'print the result as JSON on stdout'));
  withTemporalOptions(withStorageOptions(cmd));
  return cmd.action((options: RawOptions) => runCommand(() => runAudit(options)));
}

async function runAudit(options: RawOptions): Promise<void> {
  const target = resolvePruneTarget(options);
  const storageSettings = resolveStorageSettings(options);
  const temporal = resolveTemporalSettings(options);
  await openStorage(storageSettings).checkAccess();
  const settings = { repair: options.repair === true, appParallelism: Number(PRUNE_DEFAULTS.appParallelism), maxAttempts: Number(DEFAULT_MAX_ATTEMPTS) };
  const json = options.json === true;
  const report = reportTo(currentLog());
  await withTemporalClient(temporal, async (client) => {
    try {
      const result = await audit(target, settings, { client, bucket: storageSettings.bucket, temporal, report });
      if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
    } catch (err) {
      if (json && err instanceof AuditProblemsError) process.stdout.write(`${JSON.stringify(err.result)}\n`);
      throw err;
    }
  });
}
