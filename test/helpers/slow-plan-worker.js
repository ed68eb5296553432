// A shared worker in a process of its own whose reads of manifests hang after announcing
// themselves on stdout, so a test can kill it with SIGKILL while a prune plans.
// Env: TEMPORAL_ADDRESS, PUSHCACHE_TASK_QUEUE, PUSHCACHE_AWS_ENDPOINT, PUSHCACHE_AWS_ACCESS_KEY_ID,
// PUSHCACHE_AWS_SECRET_ACCESS_KEY, READ_DELAY_MS.
const { setTimeout: sleep } = require('node:timers/promises');
const { DefaultLogger, NativeConnection, Runtime } = require('@temporalio/worker');
const { S3Storage } = require('../../dist/storage/s3');
const { createSharedWorker } = require('../../dist/worker/shared-worker');

async function main() {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const env = process.env;
  const credentials = { accessKeyId: env.PUSHCACHE_AWS_ACCESS_KEY_ID, secretAccessKey: env.PUSHCACHE_AWS_SECRET_ACCESS_KEY };
  const connection = await NativeConnection.connect({ address: env.TEMPORAL_ADDRESS });
  const worker = await createSharedWorker({
    connection,
    namespace: 'default',
    taskQueue: env.PUSHCACHE_TASK_QUEUE,
    openStorage(bucket) {
      const inner = S3Storage.open({ endpoint: env.PUSHCACHE_AWS_ENDPOINT, bucket, credentials });
      const slow = Object.create(inner);
      slow.get = async (key) => {
        if (key.startsWith('manifests/')) {
          console.log(`reading ${key}`);
          await sleep(Number(env.READ_DELAY_MS));
        }
        return inner.get(key);
      };
      return slow;
    },
  });
  console.log('ready');
  await worker.run();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
