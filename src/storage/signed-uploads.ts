import { hash } from 'node:crypto';
import { once } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';
import { collectYoungGarbage } from '../collect-garbage';
import { encodeKey, S3ResponseError, type Answer, type BucketRequests } from './signed-put';
import { canonicalQuery, EMPTY_SHA256 } from './sigv4';
import { failureInAnswer, textOf } from './xml-text';

/**
 * Parts whose answer is awaited while the next one is sent. Parts are read from the file in
 * order, through the one stream that checks the whole file's sha256, so only one part's bytes
 * are on the wire at a time; the second slot hides the wait for each answer.
 */
const PARTS_AWAITED = 2;

/**
 * Streamed writes, signed and sent as SignedPut sends its PUTs: a single PUT of a body read from
 * disk, and a multipart upload whose parts stream from the body without being buffered. The
 * SDK's lib-storage held up to three 8 MiB parts of every big file in memory (and copied them
 * once more while assembling each): measured 57-76 MiB of the Job's peak during a cold publish
 * whose tree has four files of 9-70 MiB. Here a big file holds about one read chunk.
 * Path-style addressing only.
 */
export class SignedUploads {
  constructor(
    private readonly requests: BucketRequests,
    private readonly partSize: number,
  ) {}

  /**
   * One PUT of `body`, exactly `size` bytes. `payloadSha256` (hex), when known, is signed: the
   * store then refuses other bytes itself. Resolves the ETag the store answered.
   */
  async put(key: string, body: Readable, size: number, headers: Record<string, string>, payloadSha256?: string): Promise<string | undefined> {
    const answer = await this.requests.exchange('PUT', this.path(key), {
      ...headers,
      'content-length': String(size),
      'x-amz-content-sha256': payloadSha256 ?? 'UNSIGNED-PAYLOAD',
    }, body);
    return etagOf(answer);
  }

  /**
   * A multipart upload of `body`, exactly `size` bytes, in parts of the part size, each sent
   * unsigned as it is read. `headers` are the object's (type, cache, metadata, encryption);
   * `completeHeaders` ride on CompleteMultipartUpload (`if-none-match`). Aborted on any failure,
   * so a body that fails its checks never becomes an object. Resolves the store's ETag.
   */
  async multipart(key: string, body: Readable, size: number, headers: Record<string, string>, completeHeaders: Record<string, string>): Promise<string | undefined> {
    const path = this.path(key);
    const created = (await this.requests.send('POST', path, { ...headers, 'x-amz-content-sha256': EMPTY_SHA256 }, undefined, { query: 'uploads=', collect: true }))!.toString('utf8');
    const uploadId = textOf(created, 'UploadId');
    if (uploadId === undefined) throw failureInAnswer(created, 'a new multipart upload');
    const upload = canonicalQuery({ uploadId });
    try {
      const etags = await this.sendParts(path, uploadId, body, size);
      const list = Buffer.from(
        `<CompleteMultipartUpload>${etags.map((etag, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>"${etag}"</ETag></Part>`).join('')}</CompleteMultipartUpload>`,
      );
      const done = (await this.requests.send(
        'POST',
        path,
        { ...completeHeaders, 'content-type': 'application/xml', 'content-length': String(list.length), 'x-amz-content-sha256': hash('sha256', list) },
        list,
        { query: upload, collect: true },
      ))!.toString('utf8');
      if (!/<CompleteMultipartUploadResult[\s>]/.test(done)) throw failureInAnswer(done, 'the completion of a multipart upload');
      return textOf(done, 'ETag')?.replace(/"/g, '');
    } catch (err) {
      // Its parts would otherwise be kept (and billed) until a lifecycle rule removes them.
      await this.requests.send('DELETE', path, { 'x-amz-content-sha256': EMPTY_SHA256 }, undefined, { query: upload }).catch(() => undefined);
      throw err;
    }
  }

  /** Sends `body` as parts 1, 2, … of the upload; resolves their ETags in order. */
  private async sendParts(path: string, uploadId: string, body: Readable, size: number): Promise<string[]> {
    const etags: string[] = [];
    const awaited: Array<Promise<void>> = [];
    let part: { stream: PassThrough; left: number; answered: Promise<void> } | undefined;
    const open = (number: number, length: number) => {
      const stream = new PassThrough();
      // Its failures reach us as the request's; a write after that must not count as unhandled.
      stream.on('error', () => undefined);
      const answered = this.requests
        .exchange('PUT', path, { 'content-length': String(length), 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }, stream, {
          query: canonicalQuery({ partNumber: String(number), uploadId }),
        })
        .then((answer) => {
          const etag = etagOf(answer);
          if (etag === undefined) throw new S3ResponseError('InvalidResponse', `the store answered part ${number} of a multipart upload without an ETag`, 502);
          etags[number - 1] = etag;
        });
      // Awaited in turn below; until then an early failure must not count as unhandled.
      answered.catch(() => undefined);
      return { stream, left: length, answered };
    };
    let sent = 0;
    let number = 0;
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        for (let at = 0; at < chunk.length; ) {
          part ??= open(++number, Math.min(this.partSize, size - sent));
          const piece = chunk.subarray(at, at + part.left);
          at += piece.length;
          sent += piece.length;
          part.left -= piece.length;
          const flowing = part.stream.write(piece);
          if (part.left === 0) {
            part.stream.end();
            awaited.push(part.answered);
            part = undefined;
            // The read buffers of the parts sent so far are garbage by now; see collectYoungGarbage.
            collectYoungGarbage();
            if (awaited.length >= PARTS_AWAITED) await awaited.shift();
          } else if (!flowing) {
            // The request may fail instead of draining: its failure ends the wait.
            await Promise.race([once(part.stream, 'drain'), part.answered]);
          }
        }
      }
      // The body checks its own length; this only keeps a short one from completing a short object.
      if (part || sent !== size) throw new Error(`the body of a multipart upload ended after ${sent} of its ${size} bytes`);
      await Promise.all(awaited);
      return etags;
    } catch (err) {
      part?.stream.destroy(err as Error);
      throw err;
    }
  }

  private path(key: string): string {
    return this.requests.bucketPath + encodeKey(key);
  }
}

function etagOf(answer: Answer): string | undefined {
  const etag = answer.headers.etag;
  return typeof etag === 'string' ? etag.replace(/"/g, '') : undefined;
}
