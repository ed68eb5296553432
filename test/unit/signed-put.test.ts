import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { StorageError } from '../../src/errors';
import { S3Storage } from '../../src/storage/s3';
import { encodeKey, SIGNED_PUT_ATTEMPTS } from '../../src/storage/signed-put';

describe('encodeKey', () => {
  it('percent-encodes each segment as S3 signs it, keeping / as the separator', () => {
    expect(encodeKey('data/app/a b+c(1)!*\'é.js')).toBe('data/app/a%20b%2Bc%281%29%21%2A%27%C3%A9.js');
    expect(encodeKey('data/app/~x_y-z.js')).toBe('data/app/~x_y-z.js');
  });
});

describe('SignedPut against an S3 endpoint that throttles', () => {
  const SLOW_DOWN = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>';

  /** A loopback server that gives the answers in `script` in order (then 200s), recording each request. */
  async function scriptedStore(script: Array<number | 'reset'>) {
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        seen.push(`${req.method} ${req.url}`);
        const next = script.shift() ?? 200;
        if (next === 'reset') return req.socket.resetAndDestroy();
        if (next === 200) return res.writeHead(200, { etag: '"x"' }).end();
        res.writeHead(next, { 'content-type': 'application/xml' }).end(next === 503 ? SLOW_DOWN : '<Error><Code>AccessDenied</Code><Message>Access Denied.</Message></Error>');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const storage = S3Storage.open({
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      bucket: 'b',
      credentials: { accessKeyId: 'k', secretAccessKey: 's' },
    });
    return { seen, storage, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }
  const put = (storage: S3Storage) => storage.put('data/app/a.js', Buffer.from('a'), { contentType: 'text/javascript', cacheControl: 'no-cache' });

  it('sends a throttled or reset PUT again, up to the attempt limit', async () => {
    const store = await scriptedStore([503, 'reset']);
    try {
      await put(store.storage);
      expect(store.seen).toEqual(Array(3).fill('PUT /b/data/app/a.js'));
    } finally {
      await store.close();
    }
  });

  it('fails a PUT still throttled after the last attempt as StorageUnavailable, which the activity retries', async () => {
    const store = await scriptedStore(Array(SIGNED_PUT_ATTEMPTS).fill(503));
    try {
      const err = await put(store.storage).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect(err).toMatchObject({ kind: 'StorageUnavailable', permanent: false });
      expect((err as Error).message).toMatch(/SlowDown: HTTP 503/);
      expect(store.seen).toHaveLength(SIGNED_PUT_ATTEMPTS);
    } finally {
      await store.close();
    }
  });

  it('does not repeat a PUT the store refused for good', async () => {
    const store = await scriptedStore([403]);
    try {
      await expect(put(store.storage)).rejects.toMatchObject({ kind: 'AccessDenied', permanent: true });
      expect(store.seen).toHaveLength(1);
    } finally {
      await store.close();
    }
  });
});
