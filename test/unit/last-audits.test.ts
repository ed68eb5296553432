import type { Client } from '@temporalio/client';
import type { AuditResult } from '../../src/audit/types';
import { LastAudits } from '../../src/client/last-audit';

/** The last audit of each app, over a fake visibility store that counts what it is asked. */

const result = (apps: string[], failed: AuditResult['failed'] = []): AuditResult => ({
  bucket: 'frontend',
  apps,
  ok: apps.length - failed.length,
  missing: 0,
  mismatched: 0,
  unreadable: 0,
  liveMismatches: 0,
  problems: [],
  failed,
});

function visibility(runs: Array<{ workflowId: string; closeTime: Date; result: AuditResult | Error }>) {
  const asked = { lists: [] as string[], results: [] as string[] };
  const client = {
    workflow: {
      list: ({ query }: { query: string }) => {
        const prefix = /STARTS_WITH '([^']+)'/.exec(query)![1];
        asked.lists.push(prefix);
        return (async function* () {
          for (const r of runs) if (r.workflowId.startsWith(prefix)) yield { workflowId: r.workflowId, runId: `run-of-${r.workflowId}`, closeTime: r.closeTime };
        })();
      },
      getHandle: (workflowId: string) => ({
        result: async () => {
          asked.results.push(workflowId);
          const r = runs.find((x) => x.workflowId === workflowId)!.result;
          if (r instanceof Error) throw r;
          return r;
        },
      }),
    },
  } as unknown as Client;
  return { client, asked };
}

describe('LastAudits', () => {
  it('looks the bucket’s audits up once for every app, and prefers an app’s own audit only when it is newer', async () => {
    const { client, asked } = visibility([
      { workflowId: 'audit-all/frontend/scheduled-2026-12-01T00:00:00Z', closeTime: new Date('2026-12-01T00:05:00Z'), result: result(['shop', 'cart', 'docs'], [{ app: 'docs', reason: 'the store refused' }]) },
      { workflowId: 'audit-all/frontend/scheduled-2026-11-30T00:00:00Z', closeTime: new Date('2026-11-30T00:05:00Z'), result: result(['shop', 'cart', 'docs']) },
      { workflowId: 'audit/frontend/cart/2026-12-01T10-00-00Z', closeTime: new Date('2026-12-01T10:00:00Z'), result: result(['cart']) },
      { workflowId: 'audit/frontend/docs/2026-11-01T10-00-00Z', closeTime: new Date('2026-11-01T10:00:00Z'), result: result(['docs']) },
      // Another bucket whose name starts like this one's.
      { workflowId: 'audit-all/frontend-stage/scheduled-2026-12-02T00:00:00Z', closeTime: new Date('2026-12-02T00:05:00Z'), result: result(['shop']) },
    ]);
    const audits = new LastAudits(client, 'frontend');
    const [shop, cart, docs, none] = await Promise.all(['shop', 'cart', 'docs', 'new-app'].map((app) => audits.of(app)));
    expect(shop).toMatchObject({ workflowId: 'audit-all/frontend/scheduled-2026-12-01T00:00:00Z', status: 'ok' });
    expect(cart).toMatchObject({ workflowId: 'audit/frontend/cart/2026-12-01T10-00-00Z', status: 'ok' });
    expect(docs).toMatchObject({ workflowId: 'audit-all/frontend/scheduled-2026-12-01T00:00:00Z', status: 'failed', reason: 'the store refused' });
    expect(none).toMatchObject({ status: 'unknown' });
    expect(asked.lists.filter((p) => p === 'audit-all/frontend/')).toHaveLength(1);
    expect(asked.lists.filter((p) => p.startsWith('audit/frontend/')).sort()).toEqual(['audit/frontend/cart/', 'audit/frontend/docs/', 'audit/frontend/new-app/', 'audit/frontend/shop/']);
    expect(asked.results.sort()).toEqual(['audit-all/frontend/scheduled-2026-12-01T00:00:00Z', 'audit/frontend/cart/2026-12-01T10-00-00Z']);
  });

  it('says why when the newest audit’s result cannot be read, for each app it covers', async () => {
    const { client } = visibility([{ workflowId: 'audit-all/frontend/x', closeTime: new Date('2026-12-01T00:05:00Z'), result: new Error('history archived') }]);
    const audits = new LastAudits(client, 'frontend');
    expect(await audits.of('shop')).toMatchObject({ status: 'unknown', reason: expect.stringContaining('history archived') });
    expect(await audits.of('cart')).toMatchObject({ status: 'unknown', reason: expect.stringContaining('history archived') });
  });
});
