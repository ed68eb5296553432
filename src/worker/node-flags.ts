/**
 * The node flags the shared worker runs with, given on its command line by its Deployment and
 * the compose stack (the CLI's own first line is tuned for the Job; see src/cli/main.ts). The
 * worker lives for weeks, its CPU is small, and its memory is what it holds: a 2 MiB young
 * generation keeps it about 17 MiB lower idle (171 against 188 MiB) and 15 MiB lower after a
 * prune of 100,000 objects (208 against 223 MiB) than the Job's 8 MiB. V8 collects the old
 * generation once it is 1.3 times what survived the last collection (NODE_OPTIONS refuses
 * this flag, so it must be on the command line).
 */
export const WORKER_NODE_FLAGS = ['--max-semi-space-size=2', '--heap-growing-percent=30'] as const;
