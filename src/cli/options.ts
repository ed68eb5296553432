import { Command, Option } from 'commander';
import { PRUNE_DEFAULTS, PUBLISH_DEFAULTS, RETENTION_DEFAULTS, STORAGE_TIMEOUT_DEFAULTS } from '../config';

/**
 * valpop's flags, with the same short names and VALPOP_<NAME> variables, plus pushcache's own.
 * No defaults are set here: src/config.ts applies them after the other environment variables,
 * so that e.g. PUSHCACHE_AWS_BUCKET_NAME is not hidden by a flag default.
 */
/** valpop's `-r/--prefix`, the app a command is about; `description` says what the command does with it. */
export function prefixOption(description: string): Option {
  return new Option('-r, --prefix <app>', description).env('VALPOP_PREFIX');
}

export function withStorageOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('-a, --hostname <host>', 'object store host (default 127.0.0.1, or PUSHCACHE_AWS_ENDPOINT)').env('VALPOP_HOSTNAME'))
    .addOption(new Option('-p, --port <port>', 'object store port (default 9000, or PUSHCACHE_AWS_PORT)').env('VALPOP_PORT'))
    .addOption(new Option('-m, --mode <mode>', "storage: 's3' (default) or 'filesystem' (objects as files under --root)").env('VALPOP_MODE'))
    .addOption(new Option('--root <dir>', 'filesystem mode: directory holding one directory per bucket (or PUSHCACHE_FS_ROOT)'))
    .addOption(new Option('-u, --username <access-key>', 'access key id; prefer PUSHCACHE_AWS_ACCESS_KEY_ID').env('VALPOP_USERNAME'))
    .addOption(new Option('-c, --password <secret>', 'secret access key; prefer PUSHCACHE_AWS_SECRET_ACCESS_KEY').env('VALPOP_PASSWORD'))
    .addOption(new Option('-b, --bucket <name>', 'bucket (default frontend, or PUSHCACHE_AWS_BUCKET_NAME)').env('VALPOP_BUCKET'))
    .addOption(new Option('--endpoint <url>', 'full object store URL; wins over -a/-p').env('VALPOP_ENDPOINT'))
    .addOption(new Option('--scheme <http|https>', 'scheme for -a/-p (default https on port 443, else http)').env('VALPOP_SCHEME'))
    .addOption(new Option('--region <region>', 'bucket region (default us-east-1, or PUSHCACHE_AWS_REGION)').env('VALPOP_REGION'))
    .addOption(new Option('--ca-bundle <path>', "PEM CA certificates to trust for an https endpoint, besides Node's (or PUSHCACHE_AWS_CA_BUNDLE, AWS_CA_BUNDLE)"))
    .addOption(new Option('--addressing <path|virtual>', 'bucket in the path (MinIO, default) or in the host name (or PUSHCACHE_AWS_ADDRESSING)'))
    .addOption(new Option('--sse <AES256|aws:kms>', 'server-side encryption of every object written (or PUSHCACHE_AWS_SSE)'))
    .addOption(new Option('--sse-kms-key-id <id>', 'KMS key of --sse aws:kms; default the bucket\'s (or PUSHCACHE_AWS_SSE_KMS_KEY_ID)'))
    .addOption(new Option('--connect-timeout <duration>', `time to connect to the store, per request (default ${STORAGE_TIMEOUT_DEFAULTS.connectTimeout}, or PUSHCACHE_AWS_CONNECT_TIMEOUT)`))
    .addOption(
      new Option('--request-timeout <duration>', `silence from the store after which a request is retried (default ${STORAGE_TIMEOUT_DEFAULTS.requestTimeout}, or PUSHCACHE_AWS_REQUEST_TIMEOUT)`),
    );
}

/** How and what pushcache logs; src/config.ts resolveLogSettings reads them. */
export function withLogOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--log-format <pretty|json>', 'log lines as text (pretty, default) or one JSON object per line (json)').env('PUSHCACHE_LOG_FORMAT'))
    .addOption(
      new Option('--log-level <debug|info|warn|error>', "drop log lines below this level (default info; the Temporal SDK's own lines: warn)").env(
        'PUSHCACHE_LOG_LEVEL',
      ),
    );
}

/** Gives the log flags to every command that runs something, so a new command cannot miss them. */
export function withLogOptionsOnEveryCommand(program: Command): Command {
  for (const cmd of program.commands) {
    if (cmd.commands.length > 0) withLogOptionsOnEveryCommand(cmd);
    else withLogOptions(cmd);
  }
  return program;
}

export function withTemporalOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--temporal-address <host:port>', 'Temporal frontend (default 127.0.0.1:7233)').env('TEMPORAL_ADDRESS'))
    .addOption(new Option('--namespace <name>', 'Temporal namespace (default "default")').env('TEMPORAL_NAMESPACE'))
    .addOption(new Option('--task-queue <name>', 'task queue of the shared worker (default "pushcache")').env('PUSHCACHE_TASK_QUEUE'))
    .addOption(new Option('--temporal-ui-url <url>', 'Temporal Web UI base URL, to print links to runs').env('PUSHCACHE_TEMPORAL_UI_URL'))
    // The rest of Temporal's environment configuration (TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE,
    // TEMPORAL_TLS*, TEMPORAL_API_KEY) is read by @temporalio/envconfig; these flags override it.
    // Secrets are taken from files only, never as flag values.
    .addOption(new Option('--temporal-profile <name>', 'profile of the Temporal TOML config file (default "default")'))
    .addOption(new Option('--temporal-config-file <path>', 'Temporal TOML config file (default ~/.config/temporalio/temporal.toml)'))
    .addOption(new Option('--temporal-tls', 'connect to Temporal with TLS (implied by any --temporal-tls-* flag or an API key)'))
    .addOption(new Option('--temporal-tls-ca <path>', 'CA certificate (PEM) that signed the Temporal server certificate'))
    .addOption(new Option('--temporal-tls-cert <path>', 'client certificate (PEM) for mTLS'))
    .addOption(new Option('--temporal-tls-key <path>', 'client private key (PEM) for mTLS'))
    .addOption(new Option('--temporal-tls-server-name <name>', 'server name to verify, when it differs from the address host'))
    .addOption(new Option('--temporal-api-key-file <path>', 'file holding a Temporal API key (or TEMPORAL_API_KEY)'));
}

export function withPublishOptions(cmd: Command): Command {
  const d = PUBLISH_DEFAULTS;
  return cmd
    .addOption(new Option('-s, --source <dir>', 'directory holding the build (required)').env('VALPOP_SOURCE'))
    .addOption(prefixOption('app name: data/<app>/ and manifests/<app>/ (required)'))
    .addOption(new Option('-i, --image <ref>', 'image the build comes from, recorded in the manifest').env('VALPOP_IMAGE'))
    .addOption(new Option('--valpop-image <ref>', 'publisher image, recorded in the manifest').env('VALPOP_VALPOP_IMAGE'))
    .addOption(new Option('-g, --cache-max-age <seconds>', `Cache-Control max-age of hashed assets (default ${d.cacheMaxAge})`).env('VALPOP_CACHE_MAX_AGE'))
    .addOption(new Option('--batch-files <n>', `files per upload activity (default ${d.batchFiles})`).env('PUSHCACHE_BATCH_FILES'))
    .addOption(new Option('--batch-bytes <n>', `bytes per upload activity (default ${d.batchBytes})`).env('PUSHCACHE_BATCH_BYTES'))
    .addOption(new Option('--batch-parallelism <n>', `upload activities at once (default ${d.batchParallelism})`).env('PUSHCACHE_BATCH_PARALLELISM'))
    .addOption(new Option('--upload-concurrency <n>', `uploads at once inside one activity (default ${d.uploadConcurrency})`).env('PUSHCACHE_UPLOAD_CONCURRENCY'))
    .addOption(new Option('--max-attempts <n>', `attempts per step before the publish fails, 0 = unlimited (default ${d.maxAttempts})`).env('PUSHCACHE_MAX_ATTEMPTS'))
    .addOption(new Option('--no-prune', 'do not prune the app after publishing (default: prune, as valpop does)').env('PUSHCACHE_NO_PRUNE'))
    .addOption(new Option('--no-copy', 'upload every new file, never copy server-side one the bucket holds under another key (default: copy)').env('PUSHCACHE_NO_COPY'))
    .addOption(
      new Option('--no-verify-references', "let a build go live even if its fed-mods.json or index.html loads files of the app that exist nowhere (default: refuse it)").env(
        'PUSHCACHE_NO_VERIFY_REFERENCES',
      ),
    )
    .addOption(new Option('--heartbeat-timeout <duration>', `silence after which a Job is taken for dead (default ${d.heartbeatTimeout})`).env('PUSHCACHE_HEARTBEAT_TIMEOUT'))
    .addOption(new Option('--job-absence-timeout <duration>', `how long a publish waits for its Job to come back (default ${d.jobAbsenceTimeout})`).env('PUSHCACHE_JOB_ABSENCE_TIMEOUT'));
}

/** The retention rule and its guards; `lockWait` is the command's own default. */
export function withRetentionOptions(cmd: Command, lockWait: string): Command {
  const d = RETENTION_DEFAULTS;
  return cmd
    .addOption(new Option('-t, --timeout <seconds>', `age after which a build may be pruned (default ${d.timeout})`).env('VALPOP_TIMEOUT'))
    .addOption(new Option('-n, --min-asset-records <n>', `builds always kept (default ${d.minAssetRecords})`).env('VALPOP_MIN_ASSET_RECORDS'))
    .addOption(
      new Option('--orphan-grace <seconds>', `objects named by no build are deleted once older than this and --timeout (default ${d.orphanGrace})`).env(
        'PUSHCACHE_ORPHAN_GRACE',
      ),
    )
    .addOption(new Option('--max-delete <n>', 'refuse to delete more than n objects of one app (default: no limit)').env('PUSHCACHE_MAX_DELETE'))
    .addOption(new Option('--lock-wait <seconds>', `how long a prune waits for running publishes of an app (default ${lockWait})`).env('PUSHCACHE_LOCK_WAIT'));
}

export function withPruneOptions(cmd: Command): Command {
  const d = PRUNE_DEFAULTS;
  return withRetentionOptions(cmd, d.lockWait)
    .addOption(new Option('--app-parallelism <n>', `apps pruned at once by --all (default ${d.appParallelism})`).env('PUSHCACHE_APP_PARALLELISM'))
    .addOption(new Option('--max-attempts <n>', `attempts per step before the prune fails, 0 = unlimited (default ${d.maxAttempts})`).env('PUSHCACHE_MAX_ATTEMPTS'))
    .addOption(new Option('--heartbeat-timeout <duration>', `silence after which a deleting worker is taken for dead (default ${d.heartbeatTimeout})`).env('PUSHCACHE_HEARTBEAT_TIMEOUT'));
}
