#!/usr/bin/env -S node --max-semi-space-size=8 --heap-growing-percent=30
// The flags are the Job's: the operator runs the image's `valpop` (and `pushcache`) by this first
// line, with no NODE_OPTIONS. V8 lets the old generation grow to up to 4 times what survived the
// last full collection before it collects again; 1.3 times keeps the garbage of 10,000 requests
// (and the upload buffers it holds) from piling up: with a 2 MiB young generation, a cold publish
// of 10,000 files peaked at 196-203 MiB with it against 286-315 MiB without. A young generation
// of 8 MiB a semi-space (Node's default is 16 MiB or more) lets most of a request's objects die
// young instead of being promoted into that old generation, as 2 MiB did: on the dev stack, 5
// alternating runs each, a cold publish took 9.7 CPU-s (median; 8.2-10.0) against 11.4
// (10.8-12.4) and 16.7 s against 18.5 s, an unchanged republish 2.9 CPU-s against 3.4 and 3.1 s
// against 3.4 s, for 10-15 MiB more at the peak (208-215 against 196-203 MiB cold). The shared
// worker is the other way round and runs with flags of its own (src/worker/node-flags.ts).
// NODE_OPTIONS refuses --heap-growing-percent, so it lives only here. The bench reads both
// flags from here.
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
