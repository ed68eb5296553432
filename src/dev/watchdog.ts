/**
 * Runs a server so that it cannot outlive the process that started it, even a SIGKILLed one:
 * `node watchdog.js [--remove DIR] -- command args...`. The parent holds the write end of this
 * process's stdin and never writes; when the parent dies, for any reason, the kernel closes it
 * and the server is stopped (SIGTERM, then SIGKILL after a grace period). SIGTERM/SIGINT to this
 * process stop it the same way. Once the server has exited cleanly, DIR (its scratch directory)
 * is removed; after a failure it is kept for its log. Exits with the server's exit code.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';

const GRACE_MS = 10_000;

function main(argv: string[]): void {
  const separator = argv.indexOf('--');
  if (separator < 0 || separator === argv.length - 1) {
    process.stderr.write('usage: watchdog [--remove DIR] -- command [args...]\n');
    process.exit(2);
  }
  const own = argv.slice(0, separator);
  const removeDir = own[0] === '--remove' ? own[1] : undefined;
  const [command, ...args] = argv.slice(separator + 1);

  // The server writes where this process writes (the parent's log file), reads nothing.
  const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), GRACE_MS);
  };
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', stop);

  child.once('error', (err) => {
    process.stderr.write(`watchdog: cannot start ${command}: ${err.message}\n`);
    process.exit(127);
  });
  child.once('exit', (code, signal) => {
    const clean = code === 0 || (stopping && (signal === 'SIGTERM' || code === 143 || code === 130));
    if (removeDir && clean) rmSync(removeDir, { recursive: true, force: true });
    process.exit(code ?? (signal === 'SIGKILL' ? 137 : 143));
  });
}

main(process.argv.slice(2));
