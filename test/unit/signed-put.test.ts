import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { StorageError } from '../../src/errors';
import { S3Storage } from '../../src/storage/s3';
import { canDeleteInBulk, deleteRequestXml, parseDeleteResult } from '../../src/storage/signed-delete';
import { BucketRequests, encodeKey, isTransientPutError, SIGNED_PUT_ATTEMPTS } from '../../src/storage/signed-put';

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

interface SeenRequest {
  method?: string;
  url?: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** An S3Storage on a local server behind a proxy path: every request is recorded, and `answer` gives its status and body. */
async function answeringStore(answer: (req: SeenRequest) => [number, string]) {
  const seen: SeenRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const request = { method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      seen.push(request);
      const [status, body] = answer(request);
      res.writeHead(status, { 'content-type': 'application/xml' }).end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const storage = S3Storage.open({
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}/s3`,
    bucket: 'b',
    credentials: { accessKeyId: 'k', secretAccessKey: 's' },
  });
  return { seen, storage, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('SignedCopy', () => {
  const RESULT = '<?xml version="1.0" encoding="UTF-8"?><CopyObjectResult><ETag>"x"</ETag></CopyObjectResult>';

  /** A store that answers each copy with the next of `answers`. */
  const copyStore = (answers: Array<[number, string]>) => answeringStore(() => answers.shift() ?? [200, RESULT]);
  const copy = (storage: S3Storage, ifAbsent = true) =>
    storage.copyFrom!('data/one/a b.js', 'data/two/a.js', {
      ifMatch: 'abc',
      size: 1,
      ifAbsent,
      headers: { contentType: 'text/javascript', cacheControl: 'no-cache', metadata: { sha256: 'f00' } },
    });

  it('names the source by bucket and key, not by the endpoint path, with the destination’s own headers', async () => {
    const store = await copyStore([]);
    try {
      await expect(copy(store.storage)).resolves.toBe('copied');
      expect(store.seen[0].url).toBe('/s3/b/data/two/a.js');
      expect(store.seen[0].headers).toMatchObject({
        'x-amz-copy-source': '/b/data/one/a%20b.js',
        'x-amz-copy-source-if-match': '"abc"',
        'x-amz-metadata-directive': 'REPLACE',
        'content-type': 'text/javascript',
        'cache-control': 'no-cache',
        'x-amz-meta-sha256': 'f00',
        'if-none-match': '*',
        'content-length': '0',
      });
    } finally {
      await store.close();
    }
  });

  it('reads an error S3 sends inside a 200 answer: a transient one fails retryably, a failed precondition writes nothing', async () => {
    const internal = '<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>';
    const store = await copyStore([
      [200, internal],
      [412, '<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>'],
      [200, 'not xml at all'],
    ]);
    try {
      await expect(copy(store.storage)).rejects.toMatchObject({ kind: 'StorageUnavailable', permanent: false, message: expect.stringMatching(/InternalError/) });
      await expect(copy(store.storage)).resolves.toBe('precondition-failed');
      await expect(copy(store.storage, false)).rejects.toMatchObject({ kind: 'StorageUnavailable', message: expect.stringMatching(/answered a copy with something else/) });
      expect(store.seen[2].headers['if-none-match']).toBeUndefined();
    } finally {
      await store.close();
    }
  });
});

describe('SignedUploads: a multipart upload streamed from the body', () => {
  // The smallest part lib-storage (which sends the attempts after a failed one) accepts.
  const PART = 5 * 1024 * 1024;

  /** A store answering part `failPart` with 500 `failures` times (or none), recording every request and each part's size. */
  async function multipartStore(failPart?: number, failures = Infinity, partSize = PART) {
    const seen: string[] = [];
    let completion = '';
    const server = http.createServer((req, res) => {
      let bytes = 0;
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => ((bytes += c.length), req.url!.includes('uploadId') && req.method === 'POST' && chunks.push(c)));
      req.on('end', () => {
        const url = new URL(req.url!, 'http://x');
        seen.push(`${req.method} ${url.search} ${bytes}`);
        const part = Number(url.searchParams.get('partNumber'));
        if (req.method === 'POST' && url.searchParams.has('uploads')) return res.end('<InitiateMultipartUploadResult><UploadId>u-1</UploadId></InitiateMultipartUploadResult>');
        if (req.method === 'PUT' && part === failPart && failures-- > 0) return res.writeHead(500).end('<Error><Code>InternalError</Code><Message>boom</Message></Error>');
        if (req.method === 'PUT') return res.writeHead(200, { etag: `"etag-${part}"` }).end();
        if (req.method === 'POST') {
          completion = Buffer.concat(chunks).toString('utf8');
          return res.end('<CompleteMultipartUploadResult><ETag>"whole-3"</ETag></CompleteMultipartUploadResult>');
        }
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const storage = S3Storage.open({
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      bucket: 'b',
      credentials: { accessKeyId: 'k', secretAccessKey: 's' },
      partSize,
    });
    return { seen, completion: () => completion, storage, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }
  // Read in chunks that straddle the part boundaries, as a file read in 1 MiB chunks does.
  const body = (bytes: Buffer) => ({ size: bytes.length, open: () => Readable.from([bytes.subarray(0, 0.6 * PART), bytes.subarray(0.6 * PART, 1.6 * PART), bytes.subarray(1.6 * PART)]) });
  const bytes = Buffer.alloc(2 * PART + 1000, 7);

  it('sends the parts in order at the part size and completes with their ETags', async () => {
    const store = await multipartStore();
    try {
      await expect(store.storage.put('data/app/big.bin', body(bytes), { contentType: 'application/octet-stream', cacheControl: 'no-cache' })).resolves.toBe(true);
      expect(store.seen[0]).toBe('POST ?uploads= 0');
      // The last part may arrive before the one sent ahead of it has been answered.
      expect(store.seen.slice(1, -1).sort()).toEqual([`PUT ?partNumber=1&uploadId=u-1 ${PART}`, `PUT ?partNumber=2&uploadId=u-1 ${PART}`, 'PUT ?partNumber=3&uploadId=u-1 1000']);
      expect(store.seen.at(-1)).toMatch(/^POST \?uploadId=u-1 \d+$/);
      expect(store.completion()).toBe(
        '<CompleteMultipartUpload>' + [1, 2, 3].map((n) => `<Part><PartNumber>${n}</PartNumber><ETag>"etag-${n}"</ETag></Part>`).join('') + '</CompleteMultipartUpload>',
      );
    } finally {
      await store.close();
    }
  });

  it('aborts the upload when a part keeps failing, and never completes it', async () => {
    const store = await multipartStore(2);
    try {
      const err = await store.storage.put('data/app/big.bin', body(bytes), { contentType: 'application/octet-stream', cacheControl: 'no-cache' }).catch((e: unknown) => e);
      expect(err).toMatchObject({ kind: 'StorageUnavailable', permanent: false });
      // Each attempt (the store's own retries of a streamed write, lib-storage's after the first) aborts what it began.
      const attempts = store.seen.filter((r) => r.startsWith('POST ?uploads=')).length;
      expect(attempts).toBe(SIGNED_PUT_ATTEMPTS);
      expect(store.seen.filter((r) => r.startsWith('DELETE ?uploadId=u-1'))).toHaveLength(attempts);
      expect(store.seen.filter((r) => /^POST \?uploadId/.test(r))).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('frees the read buffers of the parts it has sent as it goes, not tens of MiB later', async () => {
    const MiB = 1024 * 1024;
    const store = await multipartStore(undefined, Infinity, 8 * MiB);
    let most = 0;
    const start = process.memoryUsage().arrayBuffers;
    // Fresh 1 MiB buffers, as a file's read stream hands out: 96 of them, 12 parts of 8 MiB.
    async function* reads() {
      for (let i = 0; i < 96; i++) {
        most = Math.max(most, process.memoryUsage().arrayBuffers - start);
        yield Buffer.allocUnsafeSlow(MiB).fill(i);
      }
    }
    try {
      await expect(store.storage.put('data/app/big.bin', { size: 96 * MiB, open: () => Readable.from(reads()) }, { contentType: 'application/octet-stream', cacheControl: 'no-cache' })).resolves.toBe(true);
      // Without a collection per part, V8 lets dead buffers outside its heap pile up by 64 MiB and
      // more before it collects them (105 MiB here). With it: about 22 MiB, Readable.from's 16
      // chunks read ahead included.
      expect(most).toBeLessThan(48 * MiB);
    } finally {
      await store.close();
    }
  });

  it('sends a file again when a part fails once, resending its parts through lib-storage', async () => {
    const store = await multipartStore(2, 1);
    try {
      await expect(store.storage.put('data/app/big.bin', body(bytes), { contentType: 'application/octet-stream', cacheControl: 'no-cache' })).resolves.toBe(true);
      expect(store.seen.filter((r) => r.startsWith('DELETE'))).toHaveLength(1);
      expect(store.seen.filter((r) => /^POST \?uploadId/.test(r))).toHaveLength(1);
      expect(store.completion()).toContain('<PartNumber>3</PartNumber>');
    } finally {
      await store.close();
    }
  });
});

describe('a streamed PUT whose connection breaks while the body is going out', () => {
  /** A store that resets the connection on the first `resets` PUTs as soon as their body starts arriving. */
  async function resettingStore(resets: number) {
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      if (resets > 0) {
        resets--;
        req.once('data', () => req.socket.resetAndDestroy());
        return;
      }
      req.resume();
      req.on('end', () => res.writeHead(200, { etag: '"x"' }).end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const storage = S3Storage.open({
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      bucket: 'b',
      credentials: { accessKeyId: 'k', secretAccessKey: 's' },
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { seen, url, storage, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }
  // Above the size pushcache reads into memory, so it is streamed from its source; several chunks, so the break comes mid-body.
  const bytes = Buffer.alloc(3 * 1024 * 1024, 1);
  const body = { size: bytes.length, open: () => Readable.from([0, 1, 2].map((i) => bytes.subarray(i * 1024 * 1024, (i + 1) * 1024 * 1024))) };

  it('leaves the body alone when the request fails: the socket’s error is not the body’s, which is never retried', async () => {
    const store = await resettingStore(1);
    try {
      const url = new URL(store.url);
      const requests = new BucketRequests({
        endpoint: url,
        bucket: 'b',
        agent: new http.Agent(),
        credentials: async () => ({ accessKeyId: 'k', secretAccessKey: 's' }),
        region: async () => 'us-east-1',
      });
      // Slow enough to be still reading when the connection breaks.
      const source = Readable.from(
        (async function* () {
          for (let at = 0; at < bytes.length; at += 64 * 1024) {
            await new Promise((resolve) => setTimeout(resolve, 2));
            yield bytes.subarray(at, at + 64 * 1024);
          }
        })(),
      );
      const err = await requests.exchange('PUT', '/b/data/app/mid.bin', { 'content-length': String(bytes.length), 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }, source).catch((e: unknown) => e);
      expect(isTransientPutError(err)).toBe(true);
      // Destroying it with the socket's error made a dropped connection look like a changed file: not retried, the batch failed.
      await new Promise((resolve) => setImmediate(resolve));
      expect(source.errored).toBeNull();
    } finally {
      await store.close();
    }
  });

  it('sends the file again after the connection broke', async () => {
    const store = await resettingStore(1);
    try {
      await expect(store.storage.put('data/app/mid.bin', body, { contentType: 'application/octet-stream', cacheControl: 'no-cache' })).resolves.toBe(true);
      expect(store.seen).toHaveLength(2);
    } finally {
      await store.close();
    }
  });

  it('fails retryably, as StorageUnavailable, when the connection breaks on every attempt', async () => {
    const store = await resettingStore(Infinity);
    try {
      const err = await store.storage.put('data/app/mid.bin', body, { contentType: 'application/octet-stream', cacheControl: 'no-cache' }).catch((e: unknown) => e);
      expect(err).toMatchObject({ kind: 'StorageUnavailable', permanent: false });
    } finally {
      await store.close();
    }
  });
});

describe('SignedDelete', () => {
  it('names every key in XML, escaping what XML would change, and tells the keys it cannot name', () => {
    expect(deleteRequestXml(['data/a/x.js', `data/a/<&>"'.js`, 'data/a/line\r\nbreak\t\u0085\u2028.js'])).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet>' +
        '<Object><Key>data/a/x.js</Key></Object><Object><Key>data/a/&lt;&amp;&gt;&quot;&apos;.js</Key></Object>' +
        '<Object><Key>data/a/line&#13;&#10;break&#9;&#133;&#8232;.js</Key></Object></Delete>',
    );
    expect(['data/a/ü😀.js', 'data/a/tab\t.js'].every(canDeleteInBulk)).toBe(true);
    expect(['data/a/bell\u0007.js', 'data/a/\uD800.js', 'data/a/\uFFFF'].some(canDeleteInBulk)).toBe(false);
  });

  it('reads the keys a quiet answer could not delete, and refuses an answer that is not a DeleteResult', () => {
    const ok = '<?xml version="1.0" encoding="UTF-8"?>\n<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></DeleteResult>';
    expect(parseDeleteResult(ok)).toEqual([]);
    const failed = '<DeleteResult><Error><Key>data/a/a&amp;b.js</Key><Code>AccessDenied</Code><Message>Access Denied.</Message></Error></DeleteResult>';
    expect(parseDeleteResult(failed)).toEqual([{ key: 'data/a/a&b.js', code: 'AccessDenied', message: 'Access Denied.' }]);
    expect(() => parseDeleteResult('<html>bad gateway</html>')).toThrow(/answered a bulk delete with something else/);
    expect(() => parseDeleteResult('<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>')).toThrow(/reduce/);
  });

  /** A store that answers each DeleteObjects with the next of `answers` (a DeleteResult by default), and each single delete with 204. */
  const deleteStore = (answers: Array<[number, string]>) =>
    answeringStore((req) => (req.method === 'DELETE' ? [204, ''] : (answers.shift() ?? [200, '<DeleteResult></DeleteResult>'])));

  it('sends batches of 1,000 keys with the MD5 S3 requires, and fails on a key the store could not delete', async () => {
    const store = await deleteStore([[200, '<DeleteResult></DeleteResult>'], [200, '<DeleteResult><Error><Key>k1500</Key><Code>AccessDenied</Code><Message>no</Message></Error></DeleteResult>']]);
    try {
      const keys = Array.from({ length: 1500 }, (_, i) => `k${i}`);
      await expect(store.storage.delete(keys)).rejects.toMatchObject({ kind: 'AccessDenied', message: expect.stringMatching(/could not delete k1500 from s3:\/\/b .*: AccessDenied no$/) });
      expect(store.seen.map((r) => [r.method, r.url])).toEqual([
        ['POST', '/s3/b/?delete='],
        ['POST', '/s3/b/?delete='],
      ]);
      expect(store.seen.map((r) => (r.body.match(/<Object>/g) ?? []).length)).toEqual([1000, 500]);
      for (const r of store.seen) {
        expect(r.headers['content-md5']).toBe(createHash('md5').update(r.body).digest('base64'));
        expect(r.headers['x-amz-content-sha256']).toBe(createHash('sha256').update(r.body).digest('hex'));
      }
    } finally {
      await store.close();
    }
  });

  it('deletes one by one a batch with a key XML cannot name, and every batch of a store without DeleteObjects', async () => {
    const store = await deleteStore([[501, '<Error><Code>NotImplemented</Code><Message>not here</Message></Error>']]);
    try {
      await store.storage.delete(['data/a/bell\u0007.js', 'data/a/x.js']);
      expect(store.seen.map((r) => [r.method, r.url?.replace(/\?.*/, '')])).toEqual([
        ['DELETE', '/s3/b/data/a/bell%07.js'],
        ['DELETE', '/s3/b/data/a/x.js'],
      ]);
      store.seen.length = 0;
      // The endpoint is the test's own, so this store is the only one the process learns this of.
      await store.storage.delete(['data/a/y.js']);
      await store.storage.delete(['data/a/z.js']);
      expect(store.seen.map((r) => r.method)).toEqual(['POST', 'DELETE', 'DELETE']);
    } finally {
      await store.close();
    }
  });
});
