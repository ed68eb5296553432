import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const WORKFLOWS = path.resolve(__dirname, '..', '..', 'src', 'workflows');

/** Workflow code runs in Temporal's deterministic sandbox: it may import the SDK's workflow API and types only. */
describe('workflow code imports', () => {
  const files = readdirSync(WORKFLOWS).filter((f) => f.endsWith('.ts'));

  it.each(files)('%s imports only @temporalio/workflow, types, and other workflow files', (file) => {
    const source = readFileSync(path.join(WORKFLOWS, file), 'utf8');
    const imports = [...source.matchAll(/^(import|export)\s+(type\s+)?[^'"]*?from\s+'([^']+)'/gm)];
    expect(imports.length).toBeGreaterThan(0);
    for (const [, , typeOnly, from] of imports) {
      const allowed = typeOnly !== undefined || from === '@temporalio/workflow' || (from.startsWith('./') && !from.includes('..'));
      expect({ file, from, allowed }).toEqual({ file, from, allowed: true });
    }
  });
});
