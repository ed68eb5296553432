import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { isAbsolute, join as joinPath, resolve as resolvePath } from 'node:path';
import type { Duration } from '@temporalio/common';
import { loadClientConfigProfile, toClientOptions, type ClientConfigProfile } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';
import { z } from 'zod';
import { DEFAULT_CACHE_MAX_AGE } from './contract/headers';
import { validateAppName } from './contract/names';
import { ConfigError } from './errors';
import { LOG_LEVELS, type LogLevel, type LogSettings } from './log-levels';
import type { ServerSideEncryption } from './storage/s3';

/**
 * Configuration is parsed once, here, from flags (which commander already merged with their
 * VALPOP_* variables) and from the rest of the environment. Every problem is reported at once.
 */

export type Env = Record<string, string | undefined>;

/** Raw option values as the command line gives them (all strings). */
export type RawOptions = Record<string, string | boolean | undefined>;

export interface StorageSettings {
  endpoint?: string;
  bucket: string;
  region: string;
  /** Undefined means the AWS SDK's default credential chain (AWS_* variables, profiles, pod identity). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Where the credentials came from, for messages; never the values. */
  credentialSource: string;
  /**
   * Set in filesystem mode (`-m filesystem --root DIR`): the absolute directory holding one
   * directory per bucket, objects as plain files under it; the S3 settings are then unused.
   */
  filesystemRoot?: string;
  /** PEM certificates trusted besides Node's own roots, e.g. a private CA in front of MinIO. */
  caCertificates?: string[];
  /** Path-style (`host/bucket/key`, MinIO's) or virtual-hosted (`bucket.host/key`) addressing. */
  forcePathStyle?: boolean;
  /** Server-side encryption requested for every object written. */
  serverSideEncryption?: ServerSideEncryption;
  /** Deadlines of every request to the store: to connect, and of silence once connected. */
  timeouts: { connectMs: number; requestMs: number };
}

/** Storage owns the type (src/storage/s3.ts); re-exported so callers of config keep their import. */
export type { ServerSideEncryption };

export interface TemporalSettings {
  address: string;
  namespace: string;
  taskQueue: string;
  /** Base URL of the Temporal Web UI, used to print links to runs. */
  uiUrl?: string;
  /**
   * TLS, API key and gRPC headers for the connection; absent means plaintext (the dev server).
   * Holds secrets: it goes to the connection only, never to logs or workflow inputs.
   */
  connection?: TemporalConnectionOptions;
}

export type TemporalConnectionOptions = Pick<NativeConnectionOptions, 'tls' | 'apiKey' | 'metadata'>;

/** The contract's retention rule plus pushcache's guards; shared by populate, prune and schedule. */
export interface RetentionSettings {
  timeout: number;
  minAssetRecords: number;
  /** Unreferenced objects younger than this (and than timeout) are left alone. */
  orphanGrace: number;
  /** Refuse to delete more than this many objects of one app; undefined = no limit. */
  maxDelete?: number;
  /** Seconds a prune waits for running publishes of an app before reporting it busy. */
  lockWaitSeconds: number;
}

export interface PublishSettings extends RetentionSettings {
  source: string;
  app: string;
  image: string;
  valpopImage?: string;
  /** Prune the app after a successful publish, as valpop does. */
  prune: boolean;
  /** Copy server-side what the bucket already holds under another key (default true; `--no-copy`). */
  copy?: boolean;
  /** Check before going live that every file the build's entry files load exists (issue 17). */
  verifyReferences: boolean;
  cacheMaxAge: number;
  batchFiles: number;
  batchBytes: number;
  batchParallelism: number;
  uploadConcurrency: number;
  maxAttempts: number;
  heartbeatTimeout: Duration;
  jobAbsenceTimeout: Duration;
}

const first = (...values: Array<string | boolean | undefined>): string | undefined => {
  for (const v of values) if (typeof v === 'string' && v !== '') return v;
  return undefined;
};

const intFrom = (flag: string, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .superRefine((v, ctx) => {
      if (!/^\d+$/.test(v)) ctx.addIssue({ code: 'custom', message: `${flag} must ${/^-\d+$/.test(v) ? 'not be negative' : 'be a whole number'}` });
    })
    .transform(Number)
    .pipe(z.number().min(min, `${flag} must be >= ${min}`).max(max, `${flag} must be <= ${max}`));

const duration = (flag: string) =>
  z
    .string()
    .regex(/^\d+(ms|s|m|h)$/, `${flag} must look like 500ms, 15s, 10m or 1h`)
    .transform((d) => d as Duration);

function parse<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ConfigError(result.error.issues.map((i) => i.message));
}

const StorageSchema = z
  .object({
    // A refinement, not an enum: a wrong mode must not hide the other problems (enum failures abort the object's checks).
    mode: z.string().refine((m) => m === 's3' || m === 'filesystem', { message: "-m/--mode must be 's3' or 'filesystem'" }),
    root: z.string().min(1).optional(),
    endpoint: z
      .url({ protocol: /^https?$/, message: '--endpoint must be an http:// or https:// URL' })
      // The endpoint is printed in log lines; credentials belong in PUSHCACHE_AWS_* or a profile.
      .refine((url) => !/^[a-z]+:\/\/[^/]*@/i.test(url), { message: '--endpoint must not contain credentials (user:password@); give them in PUSHCACHE_AWS_ACCESS_KEY_ID / PUSHCACHE_AWS_SECRET_ACCESS_KEY' })
      .optional(),
    hostname: z.string().min(1, '-a/--hostname is empty'),
    port: intFrom('-p/--port', 1, 65535),
    scheme: z.enum(['http', 'https'], { message: "--scheme must be 'http' or 'https'" }).optional(),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, '-b/--bucket is not a valid bucket name'),
    region: z.string().min(1),
    accessKeyId: z.string().optional(),
    secretAccessKey: z.string().optional(),
  })
  .refine((s) => (s.accessKeyId === undefined) === (s.secretAccessKey === undefined), {
    message: 'credentials are incomplete: give both the access key (-u) and the secret (-c), or neither',
  })
  .refine((s) => s.mode !== 'filesystem' || s.root !== undefined, {
    message: '-m filesystem needs --root DIR (or PUSHCACHE_FS_ROOT): the directory that holds one directory per bucket',
  });

export function resolveStorageSettings(options: RawOptions, env: Env = process.env): StorageSettings {
  const fromFlags = first(options.username) !== undefined || first(options.password) !== undefined;
  const fromPushcacheEnv = first(env.PUSHCACHE_AWS_ACCESS_KEY_ID) !== undefined;
  const endpointEnv = first(env.PUSHCACHE_AWS_ENDPOINT);
  const s = parse(StorageSchema, {
    mode: first(options.mode) ?? 's3',
    root: first(options.root) ?? first(env.PUSHCACHE_FS_ROOT),
    endpoint: first(options.endpoint) ?? (endpointEnv?.includes('://') ? endpointEnv : undefined),
    hostname: first(options.hostname) ?? (endpointEnv?.includes('://') ? undefined : endpointEnv) ?? '127.0.0.1',
    port: first(options.port) ?? first(env.PUSHCACHE_AWS_PORT) ?? '9000',
    scheme: first(options.scheme),
    bucket: first(options.bucket) ?? first(env.PUSHCACHE_AWS_BUCKET_NAME) ?? 'frontend',
    region: first(options.region) ?? first(env.PUSHCACHE_AWS_REGION, env.AWS_REGION) ?? 'us-east-1',
    accessKeyId: fromFlags ? first(options.username) : first(env.PUSHCACHE_AWS_ACCESS_KEY_ID),
    secretAccessKey: fromFlags ? first(options.password) : first(env.PUSHCACHE_AWS_SECRET_ACCESS_KEY),
  });
  // valpop always spoke plain HTTP; pushcache uses TLS on 443 unless told otherwise.
  const scheme = s.scheme ?? (s.port === 443 ? 'https' : 'http');
  const endpoint = s.endpoint?.replace(/\/+$/, '') ?? `${scheme}://${s.hostname}:${s.port}`;
  return {
    endpoint,
    bucket: s.bucket,
    region: s.region,
    credentials:
      s.accessKeyId !== undefined ? { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey! } : undefined,
    credentialSource: fromFlags
      ? 'command line'
      : fromPushcacheEnv
        ? 'PUSHCACHE_AWS_* environment'
        : 'the AWS default credential chain',
    ...storageTransport(options, env),
    timeouts: storageTimeouts(options, env),
    ...(s.mode === 'filesystem' ? { filesystemRoot: resolvePath(s.root!) } : {}),
  };
}

const TransportSchema = z
  .object({
    caBundle: z.string().optional(),
    addressing: z.enum(['path', 'virtual'], { message: "--addressing must be 'path' or 'virtual'" }).optional(),
    sse: z.enum(['AES256', 'aws:kms'], { message: "--sse must be 'AES256' or 'aws:kms'" }).optional(),
    sseKmsKeyId: z.string().min(1).optional(),
  })
  .refine((t) => t.sseKmsKeyId === undefined || t.sse === 'aws:kms', { message: '--sse-kms-key-id needs --sse aws:kms' });

/** How pushcache talks to the store: trusted CAs, addressing and encryption. */
function storageTransport(options: RawOptions, env: Env): Pick<StorageSettings, 'caCertificates' | 'forcePathStyle' | 'serverSideEncryption'> {
  const t = parse(TransportSchema, {
    caBundle: first(options.caBundle) ?? first(env.PUSHCACHE_AWS_CA_BUNDLE, env.AWS_CA_BUNDLE),
    addressing: first(options.addressing) ?? first(env.PUSHCACHE_AWS_ADDRESSING),
    sse: first(options.sse) ?? first(env.PUSHCACHE_AWS_SSE),
    sseKmsKeyId: first(options.sseKmsKeyId) ?? first(env.PUSHCACHE_AWS_SSE_KMS_KEY_ID),
  });
  return withoutUndefined({
    caCertificates: t.caBundle === undefined ? undefined : [readCaBundle(t.caBundle)],
    forcePathStyle: t.addressing === undefined ? undefined : t.addressing === 'path',
    serverSideEncryption: t.sse === undefined ? undefined : t.sse === 'AES256' ? { mode: 'AES256' as const } : withoutUndefined({ mode: 'aws:kms' as const, kmsKeyId: t.sseKmsKeyId }),
  });
}

function readCaBundle(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`CA bundle ${file} (--ca-bundle / AWS_CA_BUNDLE) cannot be read (${(err as NodeJS.ErrnoException).code})`]);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError([`CA bundle ${file} holds no PEM certificate`]);
  return pem;
}

export const STORAGE_TIMEOUT_DEFAULTS = { connectTimeout: '10s', requestTimeout: '30s' } as const;

/** A duration such as 500ms, 10s or 2m, in milliseconds; at least 1 ms. */
const milliseconds = (flag: string) =>
  z
    .string()
    .regex(/^\d+(ms|s|m)$/, `${flag} must look like 500ms, 10s or 2m`)
    .transform((d) => Number(/^\d+/.exec(d)![0]) * ({ ms: 1, s: 1000, m: 60_000 } as const)[/(ms|s|m)$/.exec(d)![0] as 'ms' | 's' | 'm'])
    .pipe(z.number().min(1, `${flag} must be more than 0`).max(3_600_000, `${flag} must be at most 60m`));

const TimeoutsSchema = z.object({
  connectMs: milliseconds('--connect-timeout'),
  requestMs: milliseconds('--request-timeout'),
});

/** `--connect-timeout` / PUSHCACHE_AWS_CONNECT_TIMEOUT and `--request-timeout` / PUSHCACHE_AWS_REQUEST_TIMEOUT. */
function storageTimeouts(options: RawOptions, env: Env): StorageSettings['timeouts'] {
  return parse(TimeoutsSchema, {
    connectMs: first(options.connectTimeout) ?? first(env.PUSHCACHE_AWS_CONNECT_TIMEOUT) ?? STORAGE_TIMEOUT_DEFAULTS.connectTimeout,
    requestMs: first(options.requestTimeout) ?? first(env.PUSHCACHE_AWS_REQUEST_TIMEOUT) ?? STORAGE_TIMEOUT_DEFAULTS.requestTimeout,
  });
}

const TemporalSchema = z.object({
  address: z.string().regex(/^[^\s:/]+:\d+$/, '--temporal-address must look like host:port'),
  namespace: z.string().min(1, '--namespace is empty'),
  taskQueue: z.string().min(1, '--task-queue is empty'),
  uiUrl: z.url({ message: '--temporal-ui-url must be a URL' }).optional(),
});

/**
 * Temporal's own environment configuration (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
 * TEMPORAL_API_KEY, TEMPORAL_TLS*, TEMPORAL_PROFILE and the TOML profile file, read by
 * @temporalio/envconfig exactly as the Temporal CLI and the other SDKs read them), with
 * pushcache's flags on top.
 */
export function resolveTemporalSettings(options: RawOptions, env: Env = process.env): TemporalSettings {
  const profile = loadTemporalProfile(options, env);
  const settings = parse(TemporalSchema, {
    address: first(options.temporalAddress) ?? profile.address ?? '127.0.0.1:7233',
    namespace: first(options.namespace) ?? profile.namespace ?? 'default',
    taskQueue: first(options.taskQueue) ?? first(env.PUSHCACHE_TASK_QUEUE) ?? 'pushcache',
    uiUrl: first(options.temporalUiUrl) ?? first(env.PUSHCACHE_TEMPORAL_UI_URL),
  });
  const connection = connectionOptions(profile);
  return connection ? { ...settings, connection } : settings;
}

/**
 * Whether `populate` uses a Temporal the environment points at, or runs standalone (its own dev
 * server and worker, in process). Temporal counts as configured by any Temporal flag, any
 * `TEMPORAL_*` variable except those Kubernetes adds for a Service named temporal* (service
 * links: `TEMPORAL_SERVICE_HOST`, `TEMPORAL_PORT_7233_TCP`, ...; they configure no client), or
 * the Temporal config file where @temporalio/envconfig looks for it. A configured Temporal is
 * never replaced by a standalone one when it cannot be reached; `--standalone` forces it.
 */
export type TemporalMode = { mode: 'cluster'; configuredBy: string } | { mode: 'standalone'; forced: boolean; ignored?: string };

const TEMPORAL_FLAGS: ReadonlyArray<[keyof RawOptions & string, string]> = [
  ['temporalAddress', '--temporal-address'],
  ['namespace', '--namespace'],
  ['temporalProfile', '--temporal-profile'],
  ['temporalConfigFile', '--temporal-config-file'],
  ['temporalTls', '--temporal-tls'],
  ['temporalTlsCa', '--temporal-tls-ca'],
  ['temporalTlsCert', '--temporal-tls-cert'],
  ['temporalTlsKey', '--temporal-tls-key'],
  ['temporalTlsServerName', '--temporal-tls-server-name'],
  ['temporalApiKeyFile', '--temporal-api-key-file'],
];

const SERVICE_LINK = /^TEMPORAL_(?:[A-Z0-9_]+_)?(?:SERVICE_HOST|SERVICE_PORT(?:_[A-Z0-9_]+)?|PORT|PORT_\d+_(?:TCP|UDP|SCTP)(?:_PROTO|_PORT|_ADDR)?)$/;

export function resolveTemporalMode(options: RawOptions, env: Env = process.env, platform: NodeJS.Platform = os.platform()): TemporalMode {
  const configuredBy = temporalConfiguredBy(options, env, platform);
  if (options.standalone === true || /^(1|true|yes)$/i.test(env.PUSHCACHE_STANDALONE ?? '')) {
    return configuredBy ? { mode: 'standalone', forced: true, ignored: configuredBy } : { mode: 'standalone', forced: true };
  }
  return configuredBy ? { mode: 'cluster', configuredBy } : { mode: 'standalone', forced: false };
}

function temporalConfiguredBy(options: RawOptions, env: Env, platform: NodeJS.Platform): string | undefined {
  const variable = Object.keys(env)
    .filter((name) => name.startsWith('TEMPORAL_') && env[name] !== undefined)
    .find((name) => name.startsWith('TEMPORAL_GRPC_META_') || !SERVICE_LINK.test(name));
  if (variable) return variable;
  // Commander fills temporalAddress and namespace from TEMPORAL_ADDRESS/TEMPORAL_NAMESPACE, already counted.
  const flag = TEMPORAL_FLAGS.find(([key]) => options[key] !== undefined && options[key] !== false);
  if (flag) return flag[1];
  const file = defaultTemporalConfigFile(env, platform);
  return file !== undefined && existsSync(file) ? file : undefined;
}

/** Where @temporalio/envconfig reads its profile file when TEMPORAL_CONFIG_FILE is unset (envconfig-toml.js). */
export function defaultTemporalConfigFile(env: Env, platform: NodeJS.Platform = os.platform()): string | undefined {
  let dir: string | undefined;
  if (platform === 'win32') dir = env.APPDATA || undefined;
  else if (platform === 'darwin') dir = env.HOME ? joinPath(env.HOME, 'Library', 'Application Support') : undefined;
  else if (env.XDG_CONFIG_HOME) dir = isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : undefined;
  else dir = env.HOME ? joinPath(env.HOME, '.config') : undefined;
  return dir === undefined ? undefined : joinPath(dir, 'temporalio', 'temporal.toml');
}

/** The Job's Temporal settings in standalone mode: its own dev server, the task queue it was given. */
export function standaloneTemporalSettings(options: RawOptions, address: string, env: Env = process.env): TemporalSettings {
  return parse(TemporalSchema, {
    address,
    namespace: 'default',
    taskQueue: first(options.taskQueue) ?? first(env.PUSHCACHE_TASK_QUEUE) ?? 'pushcache',
  });
}

function loadTemporalProfile(options: RawOptions, env: Env): ClientConfigProfile {
  const configFile = first(options.temporalConfigFile);
  if (configFile !== undefined && !existsSync(configFile)) {
    throw new ConfigError([`--temporal-config-file ${configFile} does not exist`]);
  }
  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({
      profile: first(options.temporalProfile),
      configSource: configFile !== undefined ? { path: configFile } : undefined,
      overrideEnvVars: definedOnly(env),
    });
  } catch (err) {
    throw new ConfigError([`Temporal configuration: ${(err as Error).message}`]);
  }
  const tlsFlags = {
    serverCACert: fileSource(first(options.temporalTlsCa)),
    clientCert: fileSource(first(options.temporalTlsCert)),
    clientKey: fileSource(first(options.temporalTlsKey)),
    serverName: first(options.temporalTlsServerName),
  };
  const anyTlsFlag = options.temporalTls === true || Object.values(tlsFlags).some((v) => v !== undefined);
  if (anyTlsFlag) profile.tls = { ...profile.tls, disabled: false, ...withoutUndefined(tlsFlags) };
  const apiKeyFile = first(options.temporalApiKeyFile);
  if (apiKeyFile !== undefined) profile.apiKey = readSecretFile(apiKeyFile, '--temporal-api-key-file');
  if ((profile.tls?.clientCert === undefined) !== (profile.tls?.clientKey === undefined)) {
    throw new ConfigError(['a TLS client certificate needs its key and the key its certificate (--temporal-tls-cert with --temporal-tls-key, or TEMPORAL_TLS_CLIENT_CERT_* with TEMPORAL_TLS_CLIENT_KEY_*)']);
  }
  return profile;
}

function connectionOptions(profile: ClientConfigProfile): TemporalConnectionOptions | undefined {
  let options: TemporalConnectionOptions;
  try {
    const { connectionOptions } = toClientOptions(profile);
    options = withoutUndefined({ tls: connectionOptions.tls, apiKey: connectionOptions.apiKey, metadata: connectionOptions.metadata });
  } catch (err) {
    // A certificate or key file that cannot be read; the message names the file.
    throw new ConfigError([`Temporal TLS: ${(err as Error).message}`]);
  }
  return Object.keys(options).length > 0 ? options : undefined;
}

function fileSource(path: string | undefined): { path: string } | undefined {
  return path === undefined ? undefined : { path };
}

/** A secret kept in a file (a mounted Secret); surrounding whitespace and newlines are not part of it. */
function readSecretFile(path: string, flag: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new ConfigError([`${flag}: cannot read ${path} (${(err as NodeJS.ErrnoException).code})`]);
  }
}

function withoutUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function definedOnly(env: Env): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

const appName = (flag: string) =>
  z.string().superRefine((app, ctx) => {
    try {
      validateAppName(app);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `${flag}: ${(err as Error).message}` });
    }
  });

/** The required `-r/--prefix` of publish, pop and rollback: present, and a valid app name. */
export const requiredAppName = () => z.string({ message: '-r/--prefix (the app name) is required' }).pipe(appName('-r/--prefix'));

/** Attempts per step before a publish, prune or rollback fails (--max-attempts). */
export const DEFAULT_MAX_ATTEMPTS = '10';

const retentionFields = {
  timeout: intFrom('-t/--timeout', 0),
  minAssetRecords: intFrom('-n/--min-asset-records', 0),
  orphanGrace: intFrom('--orphan-grace', 0),
  maxDelete: intFrom('--max-delete', 0).optional(),
  lockWaitSeconds: intFrom('--lock-wait', 0),
};

export const RETENTION_DEFAULTS = {
  timeout: '30',
  minAssetRecords: '3',
  orphanGrace: '86400',
} as const;

function retentionInput(options: RawOptions, lockWaitDefault: string) {
  return {
    timeout: first(options.timeout) ?? RETENTION_DEFAULTS.timeout,
    minAssetRecords: first(options.minAssetRecords) ?? RETENTION_DEFAULTS.minAssetRecords,
    orphanGrace: first(options.orphanGrace) ?? RETENTION_DEFAULTS.orphanGrace,
    maxDelete: first(options.maxDelete),
    lockWaitSeconds: first(options.lockWait) ?? lockWaitDefault,
  };
}

const PublishSchema = z.object({
  source: z.string({ message: '-s/--source is required' }).min(1, '-s/--source is required'),
  app: requiredAppName(),
  image: z.string(),
  valpopImage: z.string().optional(),
  ...retentionFields,
  prune: z.boolean(),
  copy: z.boolean().optional(),
  verifyReferences: z.boolean(),
  cacheMaxAge: intFrom('-g/--cache-max-age', 0),
  batchFiles: intFrom('--batch-files', 1, 10_000),
  batchBytes: intFrom('--batch-bytes', 1),
  batchParallelism: intFrom('--batch-parallelism', 1, 256),
  uploadConcurrency: intFrom('--upload-concurrency', 1, 256),
  maxAttempts: intFrom('--max-attempts', 0),
  heartbeatTimeout: duration('--heartbeat-timeout'),
  jobAbsenceTimeout: duration('--job-absence-timeout'),
});

export const PUBLISH_DEFAULTS = {
  ...RETENTION_DEFAULTS,
  // A Job should not sit waiting to prune; the scheduled prune catches up with a busy app.
  lockWait: '60',
  cacheMaxAge: String(DEFAULT_CACHE_MAX_AGE),
  batchFiles: '500',
  batchBytes: String(256 * 1024 * 1024),
  batchParallelism: '4',
  uploadConcurrency: '16',
  maxAttempts: DEFAULT_MAX_ATTEMPTS,
  heartbeatTimeout: '15s',
  jobAbsenceTimeout: '1h',
} as const;

export function resolvePublishSettings(options: RawOptions): PublishSettings {
  const pick = (name: keyof typeof PUBLISH_DEFAULTS) => first(options[name]) ?? PUBLISH_DEFAULTS[name];
  return parse(PublishSchema, {
    source: first(options.source),
    app: typeof options.prefix === 'string' ? options.prefix : undefined,
    image: first(options.image) ?? '',
    valpopImage: first(options.valpopImage),
    ...retentionInput(options, PUBLISH_DEFAULTS.lockWait),
    prune: options.prune !== false,
    copy: options.copy !== false,
    verifyReferences: options.verifyReferences !== false,
    cacheMaxAge: pick('cacheMaxAge'),
    batchFiles: pick('batchFiles'),
    batchBytes: pick('batchBytes'),
    batchParallelism: pick('batchParallelism'),
    uploadConcurrency: pick('uploadConcurrency'),
    maxAttempts: pick('maxAttempts'),
    heartbeatTimeout: pick('heartbeatTimeout'),
    jobAbsenceTimeout: pick('jobAbsenceTimeout'),
  });
}

export interface PruneSettings extends RetentionSettings {
  dryRun: boolean;
  appParallelism: number;
  maxAttempts: number;
  heartbeatTimeout: Duration;
}

export const PRUNE_DEFAULTS = {
  lockWait: '600',
  appParallelism: '4',
  maxAttempts: DEFAULT_MAX_ATTEMPTS,
  heartbeatTimeout: '30s',
} as const;

const PruneSchema = z.object({
  ...retentionFields,
  dryRun: z.boolean(),
  appParallelism: intFrom('--app-parallelism', 1, 64),
  maxAttempts: intFrom('--max-attempts', 0),
  heartbeatTimeout: duration('--heartbeat-timeout'),
});

export function resolvePruneSettings(options: RawOptions): PruneSettings {
  const pick = (name: Exclude<keyof typeof PRUNE_DEFAULTS, 'lockWait'>) => first(options[name]) ?? PRUNE_DEFAULTS[name];
  return parse(PruneSchema, {
    ...retentionInput(options, PRUNE_DEFAULTS.lockWait),
    dryRun: options.dryRun === true,
    appParallelism: pick('appParallelism'),
    maxAttempts: pick('maxAttempts'),
    heartbeatTimeout: pick('heartbeatTimeout'),
  });
}

/** Which apps a `prune` command covers: one (`--prefix`) or all (`--all`), never both or neither. */
export type PruneTarget = { app: string } | { all: true };

const PruneTargetSchema = z
  .object({ app: appName('-r/--prefix').optional(), all: z.boolean() })
  .refine((t) => (t.app === undefined) === t.all, { message: 'give either -r/--prefix APP or --all' });

export function resolvePruneTarget(options: RawOptions): PruneTarget {
  const t = parse(PruneTargetSchema, { app: typeof options.prefix === 'string' ? options.prefix : undefined, all: options.all === true });
  return t.app !== undefined ? { app: t.app } : { all: true };
}

export interface PopSettings {
  app: string;
  /** Absolute directory the live build is written into. */
  dest: string;
}

const PopSchema = z.object({
  app: requiredAppName(),
  dest: z.string({ message: '-d/--dest (the directory to write into) is required' }),
});

export function resolvePopSettings(options: RawOptions): PopSettings {
  const s = parse(PopSchema, { app: first(options.prefix), dest: first(options.dest) });
  return { app: s.app, dest: resolvePath(s.dest) };
}

export interface ScheduleSettings {
  scheduleId: string;
  /** Exactly one of the two. */
  every?: Duration;
  cron?: string;
}

const ScheduleSchema = z
  .object({
    scheduleId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/-]*$/, '--schedule-id may hold letters, digits, ".", "_", "-" and "/"'),
    every: z
      .string()
      .regex(/^\d+(s|m|h|d)$/, '--every must look like 90s, 15m, 1h or 1d')
      .transform((d) => d as Duration)
      .optional(),
    cron: z.string().min(1, '--cron is empty').optional(),
  })
  .refine((s) => !(s.every && s.cron), { message: 'give --every or --cron, not both' });

export function resolveScheduleSettings(options: RawOptions, bucket: string): ScheduleSettings {
  const s = parse(ScheduleSchema, {
    scheduleId: first(options.scheduleId) ?? `pushcache-prune/${bucket}`,
    every: first(options.every),
    cron: first(options.cron),
  });
  return s.every || s.cron ? s : { ...s, every: '1h' as Duration };
}

/**
 * The audit Schedule beside the prune's (issue 17): `--audit-every` (default 1d) or
 * `--audit-cron`, `--audit-schedule-id`; undefined with `--no-audit`.
 */
export function resolveAuditScheduleSettings(options: RawOptions, bucket: string): ScheduleSettings | undefined {
  if (options.audit === false) return undefined;
  const s = parse(
    ScheduleSchema,
    { scheduleId: first(options.auditScheduleId) ?? `pushcache-audit/${bucket}`, every: first(options.auditEvery), cron: first(options.auditCron) },
  );
  return s.every || s.cron ? s : { ...s, every: '1d' as Duration };
}

/** Where a server of the worker listens. */
export interface ListenAddress {
  /** An IP address; IPv6 without brackets. */
  host: string;
  port: number;
}

export interface WorkerSettings {
  maxActivities: number;
  maxWorkflowTasks: number;
  /** 0 turns the cache off: every workflow task replays its run's history. */
  maxCachedWorkflows: number;
  /** Prometheus endpoint (the SDK's metrics and pushcache's); undefined when turned off. */
  metricsAddress?: ListenAddress;
  /** Liveness and readiness endpoints; undefined when turned off. */
  healthAddress?: ListenAddress;
}

/** Sized for a pod of half a CPU and 512 MiB; docs/operations.md explains how to size them. */
export const WORKER_DEFAULTS = {
  maxActivities: '32',
  maxWorkflowTasks: '10',
  maxCachedWorkflows: '100',
  metricsAddress: '0.0.0.0:9464',
  healthAddress: '0.0.0.0:8080',
} as const;

// The SDK's Prometheus exporter binds a socket address, so the host must be an IP, not a name.
const LISTEN_ADDRESS = /^(?:\[([0-9A-Fa-f:.]+)\]|(\d{1,3}(?:\.\d{1,3}){3})):(\d{1,5})$/;

const listenAddress = (flag: string) =>
  z.string().transform((value, ctx): ListenAddress | undefined => {
    if (value === 'off') return undefined;
    const m = LISTEN_ADDRESS.exec(value);
    const port = Number(m?.[3]);
    const ipv4Ok = !m?.[2] || m[2].split('.').every((octet) => Number(octet) <= 255);
    if (!m || !ipv4Ok || port < 1 || port > 65535) {
      ctx.addIssue({ code: 'custom', message: `${flag} must be an IP address and a port, such as 0.0.0.0:9464, 127.0.0.1:9464 or [::]:9464, or 'off'` });
      return z.NEVER;
    }
    return { host: m[1] ?? m[2], port };
  });

const WorkerSchema = z
  .object({
    maxActivities: intFrom('--max-activities', 1, 10_000),
    maxWorkflowTasks: intFrom('--max-workflow-tasks', 2, 10_000),
    maxCachedWorkflows: intFrom('--max-cached-workflows', 0, 1_000_000).refine((n) => n !== 1, {
      message: '--max-cached-workflows must be 0 (no cache) or at least 2',
    }),
    metricsAddress: listenAddress('--metrics-address'),
    healthAddress: listenAddress('--health-address'),
  })
  .refine((s) => s.maxCachedWorkflows === 0 || s.maxWorkflowTasks <= s.maxCachedWorkflows, {
    message: '--max-workflow-tasks cannot exceed --max-cached-workflows: a workflow task runs on a cached workflow',
  })
  .refine((s) => !s.metricsAddress || !s.healthAddress || s.metricsAddress.port !== s.healthAddress.port, {
    message: '--metrics-address and --health-address need different ports',
  });

export function resolveWorkerSettings(options: RawOptions): WorkerSettings {
  const pick = (name: keyof typeof WORKER_DEFAULTS) => first(options[name]) ?? WORKER_DEFAULTS[name];
  return parse(WorkerSchema, {
    maxActivities: pick('maxActivities'),
    maxWorkflowTasks: pick('maxWorkflowTasks'),
    maxCachedWorkflows: pick('maxCachedWorkflows'),
    metricsAddress: pick('metricsAddress'),
    healthAddress: pick('healthAddress'),
  });
}

/** `host:port`, with brackets around an IPv6 host. */
export function formatAddress(address: ListenAddress): string {
  return `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
}

export interface ResolvedLogSettings extends LogSettings {
  /**
   * Level of the Temporal SDK's own lines: the one given or, by default, WARN, since the SDK's
   * INFO lines would drown the Job's progress. PUSHCACHE_LOG_LEVEL set only this before.
   */
  sdkLevel: Uppercase<LogLevel>;
}

const LogSchema = z.object({
  format: z.enum(['pretty', 'json'], { message: "--log-format must be 'pretty' or 'json'" }),
  // trace is kept because PUSHCACHE_LOG_LEVEL=TRACE was valid for the SDK's lines.
  level: z.enum(LOG_LEVELS, { message: "--log-level must be 'debug', 'info', 'warn' or 'error'" }).optional(),
});

/** `--log-format` / PUSHCACHE_LOG_FORMAT and `--log-level` / PUSHCACHE_LOG_LEVEL, in any case. */
export function resolveLogSettings(options: RawOptions, env: Env = process.env): ResolvedLogSettings {
  const s = parse(LogSchema, {
    format: (first(options.logFormat) ?? first(env.PUSHCACHE_LOG_FORMAT) ?? 'pretty').toLowerCase(),
    level: (first(options.logLevel) ?? first(env.PUSHCACHE_LOG_LEVEL))?.toLowerCase(),
  });
  return { format: s.format, level: s.level ?? 'info', sdkLevel: (s.level ?? 'warn').toUpperCase() as Uppercase<LogLevel> };
}
