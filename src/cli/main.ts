#!/usr/bin/env node
import { Command } from 'commander';
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import { demoCommand, devCommand } from './dev-command';
import { populateCommand } from './populate-command';
import { pruneCommand } from './prune-command';
import { scheduleCommand } from './schedule-command';
import { workerCommand } from './worker-command';

// The SDK's own logs at INFO drown the Job's progress lines; warnings and errors still show,
// except the one every activity-only worker (the Job's) logs by design.
const level = (process.env.PUSHCACHE_LOG_LEVEL?.toUpperCase() as LogLevel | undefined) ?? 'WARN';
Runtime.install({
  logger: new DefaultLogger(level, (entry) => {
    if (entry.message.startsWith('No workflows registered')) return;
    console.error(`${new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString()} [${entry.level}] ${entry.message}`, entry.meta ?? '');
  }),
});

const program = new Command('pushcache')
  .description('Publish frontend builds to an S3-compatible asset cache through durable Temporal workflows')
  .showHelpAfterError()
  .addCommand(populateCommand())
  .addCommand(pruneCommand())
  .addCommand(scheduleCommand())
  .addCommand(workerCommand())
  .addCommand(devCommand())
  .addCommand(demoCommand());

void program.parseAsync(process.argv);
