import path from 'node:path';
import { readFileSync } from 'node:fs';
import type { Command } from './measure';
import type { Peer, ToolName } from './peers';

/** What each tool runs in each scenario: the command lines, and nothing else. */

export type ScenarioId = 'cold' | 'noop' | 'changed' | 'delete';

export interface Scenario {
  id: ScenarioId;
  title: string;
  /** One paragraph for the report: what is measured and how the bucket is prepared. */
  method: string;
}

export const APP = 'bench-app';

export function scenarios(deleteCount: number): Scenario[] {
  return [
    {
      id: 'cold',
      title: 'Cold upload of the tree',
      method: 'Each tool uploads the whole tree into a new, empty bucket.',
    },
    {
      id: 'noop',
      title: 'Republish of the unchanged tree',
      method:
        'Right after its cold upload, each tool publishes the same tree again into the same bucket: pushcache and valpop with a new `--image` (as the operator does for a new image), the S3 tools with their sync command.',
    },
    {
      id: 'changed',
      title: 'Republish with one changed file',
      method:
        'Then each tool publishes a copy of the tree in which one 4-64 KiB `.js` file has new content (1 KiB longer, modified now; every other file is a hard link with its old modification time).',
    },
    {
      id: 'delete',
      title: `Deleting ${deleteCount.toLocaleString('en-US')} objects of one app`,
      method: `A new bucket is seeded with ${deleteCount.toLocaleString('en-US')} tiny objects under \`data/${APP}/\` (one tar archive that MinIO unpacks; not timed) and one manifest, written an hour in the past, that names them all; after 2 s (longer than the 1 s grace below) pushcache prunes the app with \`-t 1 -n 0 --orphan-grace 1\`, which deletes every object and the manifest, and s5cmd removes \`data/${APP}/*\`.`,
    },
  ];
}

export interface ToolContext {
  peer: Peer;
  endpoint: string;
  host: string;
  port: number;
  accessKeyId: string;
  secretAccessKey: string;
  /** Environment of the pushcache CLI (Temporal address, task queue, endpoint, credentials). */
  pushcacheEnv: NodeJS.ProcessEnv;
  /** A directory for the peers' config files, so a user's ~/.aws or rclone.conf cannot change their defaults. */
  configDir: string;
}

export interface ToolCommands {
  cold(dir: string, bucket: string, image: string): Command;
  republish(dir: string, bucket: string, image: string): Command;
  /** Delete every object of the app; only tools with a delete command take part in that scenario. */
  remove?(bucket: string): Command;
}

export function awsEnv(ctx: Pick<ToolContext, 'accessKeyId' | 'secretAccessKey' | 'configDir'>): NodeJS.ProcessEnv {
  return {
    AWS_ACCESS_KEY_ID: ctx.accessKeyId,
    AWS_SECRET_ACCESS_KEY: ctx.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: path.join(ctx.configDir, 'aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(ctx.configDir, 'aws-credentials'),
    AWS_PAGER: '',
  };
}

/** Each tool's command lines, every one with the tool's default settings (concurrency, part size, output). */
export function commandsFor(tool: ToolName, ctx: ToolContext): ToolCommands {
  const bin = ctx.peer.bin ?? tool;
  switch (tool) {
    case 'pushcache': {
      const env = (bucket: string) => ({ ...ctx.pushcacheEnv, PUSHCACHE_AWS_BUCKET_NAME: bucket });
      // The node flags of the CLI's first line, which the image's `pushcache` command runs with.
      const flags = shebangNodeFlags(bin);
      const populate = (dir: string, bucket: string, image: string): Command => ({
        bin: process.execPath,
        args: [...flags, bin, 'populate', '-s', dir, '-r', APP, '-i', image],
        env: env(bucket),
      });
      return {
        cold: populate,
        republish: populate,
        remove: (bucket) => ({ bin: process.execPath, args: [...flags, bin, 'prune', '-r', APP, '-t', '1', '-n', '0', '--orphan-grace', '1'], env: env(bucket) }),
      };
    }
    case 's5cmd': {
      const env = awsEnv(ctx);
      return {
        cold: (dir, bucket) => ({ bin, args: ['--endpoint-url', ctx.endpoint, 'cp', `${dir}/`, `s3://${bucket}/data/${APP}/`], env }),
        republish: (dir, bucket) => ({ bin, args: ['--endpoint-url', ctx.endpoint, 'sync', `${dir}/`, `s3://${bucket}/data/${APP}/`], env }),
        remove: (bucket) => ({ bin, args: ['--endpoint-url', ctx.endpoint, 'rm', `s3://${bucket}/data/${APP}/*`], env }),
      };
    }
    case 'aws': {
      const env = awsEnv(ctx);
      return {
        cold: (dir, bucket) => ({ bin, args: ['--endpoint-url', ctx.endpoint, 's3', 'cp', '--recursive', dir, `s3://${bucket}/data/${APP}/`], env }),
        republish: (dir, bucket) => ({ bin, args: ['--endpoint-url', ctx.endpoint, 's3', 'sync', dir, `s3://${bucket}/data/${APP}/`], env }),
      };
    }
    case 'rclone': {
      // An on-the-fly remote named "bench", configured from the environment only.
      const env: NodeJS.ProcessEnv = {
        RCLONE_CONFIG: path.join(ctx.configDir, 'rclone.conf'),
        RCLONE_CONFIG_BENCH_TYPE: 's3',
        RCLONE_CONFIG_BENCH_PROVIDER: 'Minio',
        RCLONE_CONFIG_BENCH_ENDPOINT: ctx.endpoint,
        RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: ctx.accessKeyId,
        RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: ctx.secretAccessKey,
        RCLONE_CONFIG_BENCH_REGION: 'us-east-1',
        // rclone 1.60 refuses to start when AWS_CA_BUNDLE is set ("unsupported transport"); the endpoint is plain HTTP anyway.
        AWS_CA_BUNDLE: undefined,
      };
      return {
        cold: (dir, bucket) => ({ bin, args: ['copy', dir, `bench:${bucket}/data/${APP}`], env }),
        republish: (dir, bucket) => ({ bin, args: ['sync', dir, `bench:${bucket}/data/${APP}`], env }),
      };
    }
    case 'valpop': {
      const populate = (dir: string, bucket: string, image: string): Command => ({
        bin,
        args: ['populate', '-a', ctx.host, '-p', String(ctx.port), '-u', ctx.accessKeyId, '-c', ctx.secretAccessKey, '-b', bucket, '-s', dir, '-r', APP, '-i', image],
      });
      return { cold: populate, republish: populate };
    }
  }
}

/** A command line for the report, with placeholders instead of this run's paths, ports and secrets. */
export function describeCommand(tool: ToolName, scenario: ScenarioId): string | undefined {
  const ctx: ToolContext = {
    peer: { name: tool, bin: tool },
    endpoint: '$ENDPOINT',
    host: '$HOST',
    port: 0,
    accessKeyId: '$KEY',
    secretAccessKey: '$SECRET',
    pushcacheEnv: {},
    configDir: '',
  };
  const c = commandsFor(tool, ctx);
  const cmd =
    scenario === 'cold' ? c.cold('DIR', 'BUCKET', 'IMAGE') : scenario === 'delete' ? c.remove?.('BUCKET') : c.republish('DIR', 'BUCKET', 'IMAGE');
  if (!cmd) return undefined;
  const words = tool === 'pushcache' ? ['pushcache', ...cmd.args.slice(1)] : [tool, ...cmd.args];
  return words.join(' ').replace('-p 0', '-p $PORT');
}

/** `--a --b` of a `#!/usr/bin/env -S node --a --b` first line; none for a plain `#!/usr/bin/env node` or a missing file. */
export function shebangNodeFlags(file: string): string[] {
  let first: string;
  try {
    first = readFileSync(file, 'utf8').split('\n', 1)[0];
  } catch {
    return [];
  }
  const m = /^#!\/usr\/bin\/env -S node((?: --?[\w-]+(?:=\S+)?)*)\s*$/.exec(first);
  return m ? m[1].trim().split(/\s+/).filter(Boolean) : [];
}
