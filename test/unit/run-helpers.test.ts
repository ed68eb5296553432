import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure, RetryState } from '@temporalio/common';
import { resultOrFailure, runLink, startOrJoin } from '../../src/client/runs';
import type { TemporalSettings } from '../../src/config';
import { lanes } from '../../src/workflows/helpers';
import { retentionRule } from '../../src/workflows/retention-rule';

describe('lanes', () => {
  it('hands out every index once, in order, to at most n calls at a time', async () => {
    const started: number[] = [];
    let running = 0;
    let most = 0;
    await lanes(3, 10, async (i) => {
      started.push(i);
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, (i * 7) % 5));
      running--;
    });
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(most).toBe(3);
  });

  it('runs nothing for no work, and no more lanes than there is work', async () => {
    const seen: number[] = [];
    await lanes(4, 0, async (i) => void seen.push(i));
    await lanes(8, 2, async (i) => void seen.push(i));
    expect(seen).toEqual([0, 1]);
  });
});

describe('retentionRule', () => {
  it('maps the flags (-n, -t, --orphan-grace) onto the rule', () => {
    expect(retentionRule({ minAssetRecords: 3, timeout: 30, orphanGrace: 86400 })).toEqual({ minAssetRecords: 3, timeoutSeconds: 30, graceSeconds: 86400 });
  });
});

class DemoFailedError extends Error {
  override readonly name = 'DemoFailedError';
}

describe('client run helpers', () => {
  it('resultOrFailure turns a failed run into the command error with the innermost message, and passes other errors on', async () => {
    const failed = new WorkflowFailedError('Workflow execution failed', ApplicationFailure.create({ message: 'staging failed: no such dir' }), RetryState.NON_RETRYABLE_FAILURE);
    await expect(resultOrFailure(Promise.reject(failed), DemoFailedError)).rejects.toEqual(new DemoFailedError('staging failed: no such dir'));
    await expect(resultOrFailure(Promise.reject(failed), DemoFailedError)).rejects.toBeInstanceOf(DemoFailedError);
    const other = new Error('connection lost');
    await expect(resultOrFailure(Promise.reject(other), DemoFailedError)).rejects.toBe(other);
    await expect(resultOrFailure(Promise.resolve(7), DemoFailedError)).resolves.toBe(7);
  });

  it('startOrJoin retries without search attributes only when the namespace lacks them', async () => {
    const calls: Array<Record<string, unknown>> = [];
    let refuse: Error | undefined = new Error('search attribute PushcacheApp is not defined');
    const client = {
      workflow: {
        start: async (_type: string, options: Record<string, unknown>) => {
          calls.push(options);
          if ('searchAttributes' in options && refuse) throw refuse;
          return { firstExecutionRunId: 'run-1' };
        },
      },
    } as unknown as Client;
    let warned = 0;
    const options = { workflowId: 'w', taskQueue: 'q', args: [] };
    await expect(startOrJoin(client, 'W', options, { PushcacheApp: ['a'] }, () => warned++)).resolves.toMatchObject({ firstExecutionRunId: 'run-1' });
    expect(calls).toEqual([{ ...options, searchAttributes: { PushcacheApp: ['a'] } }, options]);
    expect(warned).toBe(1);

    refuse = new Error('namespace not found');
    await expect(startOrJoin(client, 'W', options, { PushcacheApp: ['a'] }, () => warned++)).rejects.toBe(refuse);
    expect(warned).toBe(1);

    calls.length = 0;
    await startOrJoin(client, 'W', options);
    expect(calls).toEqual([options]);
  });

  it('runLink reports the run page only when a UI URL is configured', () => {
    const lines: Array<[string, unknown]> = [];
    const report = (line: string, event?: unknown) => void lines.push([line, event]);
    const temporal = { namespace: 'default', uiUrl: 'http://ui:8233/' } as TemporalSettings;
    runLink(temporal, report, { app: 'a', workflowId: 'publish/a/x', runId: 'r1' });
    runLink({ ...temporal, uiUrl: undefined } as TemporalSettings, report, { workflowId: 'w', runId: 'r' });
    const url = 'http://ui:8233/namespaces/default/workflows/publish%2Fa%2Fx/r1/history';
    expect(lines).toEqual([[`follow it at ${url}`, { event: 'run-link', app: 'a', workflowId: 'publish/a/x', runId: 'r1', url }]]);
  });
});
