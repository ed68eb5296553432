import module from 'node:module';
import path from 'node:path';

// Imported first by main.ts, so that every module after it (the Temporal SDK's alone take
// 0.3-0.6 s to compile) is read from V8's code cache on the next start: about half of a
// command's start-up on a warm machine. The cache lives beside the code (the image fills it
// when it is built), never in the temp directory, which a Job must leave as it found it;
// $NODE_COMPILE_CACHE overrides, NODE_DISABLE_COMPILE_CACHE=1 turns it off. A directory that
// cannot be written only costs the speed-up.
try {
  module.enableCompileCache?.(process.env.NODE_COMPILE_CACHE ?? path.join(__dirname, '..', '..', '.compile-cache'));
} catch {
  // read-only or full disk
}
