import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DURATION_BUCKETS, METRICS } from '../../src/telemetry/metric-names';

const TELEMETRY = path.resolve(__dirname, '..', '..', 'src', 'telemetry');

describe('pushcache metrics', () => {
  it('have Prometheus names, and every duration histogram has its buckets in ascending seconds', () => {
    for (const metric of Object.values(METRICS)) {
      expect(metric.name).toMatch(/^pushcache_[a-z_]+[a-z]$/);
      // The exporter adds _total to counters and the unit to histograms; the names carry neither.
      expect(metric.name).not.toMatch(/_(total|seconds)$/);
      if ('unit' in metric) {
        const buckets = DURATION_BUCKETS[metric.name];
        expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
        expect(buckets[0]).toBeGreaterThan(0);
      }
    }
    expect(Object.keys(DURATION_BUCKETS).sort()).toEqual([METRICS.publishDuration.name, METRICS.pruneDuration.name].sort());
  });

  // The interceptor is bundled with the workflows and runs in the same deterministic sandbox.
  it.each(['workflow-metrics.ts', 'metric-names.ts'])('%s imports only @temporalio/workflow, types and metric-names', (file) => {
    const source = readFileSync(path.join(TELEMETRY, file), 'utf8');
    for (const [, typeOnly, from] of source.matchAll(/^import\s+(type\s+)?[^']*?from\s+'([^']+)'/gm)) {
      const allowed = typeOnly !== undefined || from === '@temporalio/workflow' || from === './metric-names';
      expect({ file, from, allowed }).toEqual({ file, from, allowed: true });
    }
  });
});
