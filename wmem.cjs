const { Worker, NativeConnection, Runtime } = require('@temporalio/worker');
(async () => {
  const connection = await NativeConnection.connect({ address: '127.0.0.1:17233' });
  const withWf = process.argv[2] === 'wf';
  const opts = { connection, taskQueue: 'wmem-' + Date.now(), activities: { a: async () => 1 } };
  if (withWf) Object.assign(opts, { workflowBundle: { codePath: '/work/main/dist/workflow-bundle.js' } }, process.argv[3] ? JSON.parse(process.argv[3]) : {});
  const w = await Worker.create(opts);
  const p = w.run();
  await new Promise((r) => setTimeout(r, 4000));
  const s = require('fs').readFileSync('/proc/self/status', 'utf8');
  console.log(process.argv.slice(2).join(' '), s.match(/VmRSS:\s+\d+/)[0], 'heapTotal', process.memoryUsage().heapTotal >> 20);
  w.shutdown(); await p; process.exit(0);
})();
