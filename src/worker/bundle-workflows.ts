import { writeFile } from 'node:fs/promises';
import { bundleWorkflowCode } from '@temporalio/worker';
import { PREBUILT_BUNDLE, WORKFLOW_INTERCEPTOR_MODULES } from './shared-worker';

/** Bundles workflow code once at build time, so workers start without webpack. */
async function main(): Promise<void> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
    logger: quietLogger,
  });
  await writeFile(PREBUILT_BUNDLE, code);
  console.log(`workflow bundle written to ${PREBUILT_BUNDLE} (${(code.length / 1024).toFixed(0)} KiB)`);
}

const noop = () => undefined;
const quietLogger = { log: noop, trace: noop, debug: noop, info: noop, warn: console.warn, error: console.error };

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
