#!/usr/bin/env -S node --max-semi-space-size=2 --heap-growing-percent=30
// The flags: the image's `pushcache` and `valpop` run this file by its first line, with no
// NODE_OPTIONS set by the operator. A 2 MiB young generation (Node's default is 16 MiB or more a
// semi-space, three of them) cut the Job's peak RSS on a cold publish of 10,000 files from
// 322-347 MiB to 251-266 MiB, for no measurable CPU (docs/benchmarks.md). V8 lets the old
// generation grow to up to 4 times what survived the last full collection before it collects
// again; 1.3 times keeps the garbage of 10,000 requests (and the upload buffers it holds) from
// piling up: the Job's peak RSS went from 242-297 MiB to 229 MiB on a cold publish and from
// 242-307 MiB to 217-233 MiB on a republish, its CPU-seconds within the noise (1.2 times cost
// a republish about 10% more CPU). NODE_OPTIONS refuses --heap-growing-percent, so it lives
// only here. The bench reads both flags from here.
// First: every import after it is compiled through the cache it enables.
import './compile-cache';
import { Command } from 'commander';
import { auditCommand } from './audit-command';
import { installRuntimeBeforeActions } from '../telemetry/runtime';
import { demoCommand, devCommand } from './dev-command';
import { popCommand } from './pop-command';
import { withLogOptionsOnEveryCommand } from './options';
import { populateCommand } from './populate-command';
import { pruneCommand } from './prune-command';
import { rollbackCommand } from './rollback-command';
import { exitWithError } from './run';
import { scheduleCommand } from './schedule-command';
import { statusCommand } from './status-command';
import { hoistGlobalFlags, valpopEnvAliases } from './valpop-compat';
import { packageVersion } from './version';
import { workerCommand } from './worker-command';

const program = new Command('pushcache')
  .description('Publish frontend builds to an S3-compatible asset cache through durable Temporal workflows')
  .version(packageVersion(), '-V, --version', 'print the version of pushcache')
  .showHelpAfterError()
  .addCommand(populateCommand())
  .addCommand(pruneCommand())
  .addCommand(auditCommand())
  .addCommand(popCommand())
  .addCommand(rollbackCommand())
  .addCommand(statusCommand())
  .addCommand(scheduleCommand())
  .addCommand(workerCommand())
  .addCommand(devCommand())
  .addCommand(demoCommand());

// The SDK's runtime is installed per command, before its action: the worker installs its own
// (with the metrics exporter its flags describe), every other command gets the logging-only one.
withLogOptionsOnEveryCommand(program);
installRuntimeBeforeActions(program);
// Actions end the process themselves (runCommand); what arrives here failed before its action,
// such as a bad --log-format.
// valpop's forms (global flags before the subcommand, VALPOP_* names with hyphens) are mapped
// here, once, so every command reads them like its own flags and variables.
try {
  Object.assign(process.env, valpopEnvAliases(process.env));
} catch (err) {
  exitWithError(err);
}
program.parseAsync([...process.argv.slice(0, 2), ...hoistGlobalFlags(process.argv.slice(2))]).catch(exitWithError);
