// A shared worker in a process of its own whose store is slowed where a test wants to kill it
// with SIGKILL: with DELETE_DELAY_MS, deletes are slow and announced ("deleted N"), between two
// delete batches of a prune; with READ_DELAY_MS, reads of manifests are announced ("reading KEY")
// and then hang, while a prune plans; with COPY_DELAY_MS, copies to data/ (a rollback restoring
// files) are announced ("copying KEY") and then slow.
// Env: TEMPORAL_ADDRESS, PUSHCACHE_TASK_QUEUE, PUSHCACHE_AWS_ENDPOINT, PUSHCACHE_AWS_ACCESS_KEY_ID,
// PUSHCACHE_AWS_SECRET_ACCESS_KEY, and DELETE_DELAY_MS, READ_DELAY_MS and/or COPY_DELAY_MS;
// PLAN_PART_KEYS makes prune plans split into parts of that many keys.
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
    ...(env.PLAN_PART_KEYS ? { planPartKeys: Number(env.PLAN_PART_KEYS) } : {}),
    openStorage(bucket) {
      const inner = S3Storage.open({ endpoint: env.PUSHCACHE_AWS_ENDPOINT, bucket, credentials });
      const slow = Object.create(inner);
      if (env.DELETE_DELAY_MS) {
        slow.delete = async (keys) => {
          await sleep(Number(env.DELETE_DELAY_MS));
          await inner.delete(keys);
          console.log(`deleted ${keys.length}`);
        };
      }
      if (env.COPY_DELAY_MS) {
        slow.copy = async (from, to) => {
          if (to.startsWith('data/')) {
            console.log(`copying ${to}`);
            await sleep(Number(env.COPY_DELAY_MS));
          }
          return inner.copy(from, to);
        };
      }
      if (env.READ_DELAY_MS) {
        slow.get = async (key) => {
          if (key.startsWith('manifests/')) {
            console.log(`reading ${key}`);
            await sleep(Number(env.READ_DELAY_MS));
          }
          return inner.get(key);
        };
      }
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
