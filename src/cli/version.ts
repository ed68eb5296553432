import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/**
 * The version in package.json, which both the image and an npm install ship beside dist/ (this
 * file runs from dist/cli/). Read at start, not compiled in, so a build cannot disagree with it.
 */
export function packageVersion(): string {
  try {
    return z.object({ version: z.string() }).parse(JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'))).version;
  } catch {
    return 'unknown';
  }
}
