import module from 'node:module';

// Imported first by main.ts, so that every module after it (the Temporal SDK's alone take
// 0.3-0.6 s to compile) is read from V8's code cache on the next start: about half of a
// command's start-up on a warm machine. Node 22.1+; in $NODE_COMPILE_CACHE, else the temp
// directory; NODE_DISABLE_COMPILE_CACHE=1 turns it off. A failure only costs the speed-up.
try {
  module.enableCompileCache?.();
} catch {
  // read-only or full temp directory
}
