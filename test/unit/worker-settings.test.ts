import { formatAddress, resolveWorkerSettings } from '../../src/config';
import { ConfigError } from '../../src/errors';

describe('worker settings', () => {
  it('defaults to a small pod: 32 activities, 10 workflow tasks, 100 cached workflows, metrics and probes on every interface', () => {
    expect(resolveWorkerSettings({})).toEqual({
      maxActivities: 32,
      maxWorkflowTasks: 10,
      maxCachedWorkflows: 100,
      metricsAddress: { host: '0.0.0.0', port: 9464 },
      healthAddress: { host: '0.0.0.0', port: 8080 },
    });
  });

  it("takes IPv4 and bracketed IPv6 addresses, and 'off'", () => {
    const s = resolveWorkerSettings({ metricsAddress: '[::]:9100', healthAddress: 'off', maxCachedWorkflows: '0', maxWorkflowTasks: '40' });
    expect(s.metricsAddress).toEqual({ host: '::', port: 9100 });
    expect(formatAddress(s.metricsAddress!)).toBe('[::]:9100');
    expect(s.healthAddress).toBeUndefined();
    // Without a cache the workflow task limit is not bounded by it.
    expect(s).toMatchObject({ maxCachedWorkflows: 0, maxWorkflowTasks: 40 });
    expect(formatAddress(resolveWorkerSettings({ healthAddress: '127.0.0.1:18080' }).healthAddress!)).toBe('127.0.0.1:18080');
  });

  it.each([
    [{ metricsAddress: 'localhost:9464' }, /--metrics-address must be an IP address and a port/],
    [{ metricsAddress: '0.0.0.0' }, /--metrics-address must be an IP address and a port/],
    [{ healthAddress: '300.0.0.1:8080' }, /--health-address must be an IP address and a port/],
    [{ healthAddress: '0.0.0.0:70000' }, /--health-address must be an IP address and a port/],
    [{ healthAddress: '0.0.0.0:9464' }, /--metrics-address and --health-address need different ports/],
    [{ maxCachedWorkflows: '1' }, /--max-cached-workflows must be 0 \(no cache\) or at least 2/],
    [{ maxWorkflowTasks: '1' }, /--max-workflow-tasks must be >= 2/],
    [{ maxWorkflowTasks: '20', maxCachedWorkflows: '10' }, /--max-workflow-tasks cannot exceed --max-cached-workflows/],
    [{ maxActivities: '0' }, /--max-activities must be >= 1/],
    [{ maxActivities: 'many' }, /--max-activities must be a whole number/],
  ])('refuses %j', (options, message) => {
    expect(() => resolveWorkerSettings(options)).toThrow(ConfigError);
    expect(() => resolveWorkerSettings(options)).toThrow(message);
  });

  it('reports every problem at once', () => {
    let problems: string[] = [];
    try {
      resolveWorkerSettings({ maxActivities: 'x', metricsAddress: 'nowhere' });
    } catch (err) {
      problems = (err as ConfigError).problems;
    }
    expect(problems).toEqual([
      '--max-activities must be a whole number',
      "--metrics-address must be an IP address and a port, such as 0.0.0.0:9464, 127.0.0.1:9464 or [::]:9464, or 'off'",
    ]);
  });
});
