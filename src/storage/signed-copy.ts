import { textOf } from './signed-list';
import { encodeKey, S3ResponseError, type BucketRequests } from './signed-put';
import { EMPTY_SHA256 } from './sigv4';

/**
 * CopyObject within the bucket, signed and sent as SignedPut sends its PUTs. A publish whose
 * files other apps already hold copies most of them, one request per file: through the SDK,
 * its middleware, signer and XML parser took about 2 ms of the Job's CPU per copy, so copying
 * 10,000 small files cost twice the CPU of uploading them. Path-style addressing only.
 */
export class SignedCopy {
  constructor(private readonly requests: BucketRequests) {}

  /**
   * Copies `sourceKey` onto `destKey`; `headers` are the copy's own (`x-amz-copy-source-if-match`,
   * `x-amz-metadata-directive`, the destination's headers). Fails with an S3ResponseError as
   * the store answers, including the error S3 may send inside a 200 answer to a copy.
   */
  async copy(sourceKey: string, destKey: string, headers: Record<string, string>): Promise<void> {
    const answer = await this.requests.send(
      'PUT',
      this.requests.bucketPath + encodeKey(destKey),
      {
        ...headers,
        // Names bucket and key, never the endpoint's path: that is where the store is, not what it holds.
        'x-amz-copy-source': `/${this.requests.bucket}/${encodeKey(sourceKey)}`,
        'content-length': '0',
        'x-amz-content-sha256': EMPTY_SHA256,
      },
      undefined,
      { collect: true },
    );
    const xml = answer!.toString('utf8');
    if (/<CopyObjectResult[\s>]/.test(xml)) return;
    throw copyFailure(xml);
  }
}

/**
 * What a 200 answer without a CopyObjectResult means. S3 sends the status before the copy ends,
 * so a copy that fails after that arrives as an error document in a 200 answer; its code decides
 * whether it is worth another attempt, as the status would have.
 */
function copyFailure(xml: string): S3ResponseError {
  const code = textOf(xml, 'Code');
  if (code === undefined) return new S3ResponseError('InvalidResponse', `the store answered a copy with something else: ${xml.slice(0, 200)}`, 502);
  return new S3ResponseError(code, textOf(xml, 'Message') ?? code, TRANSIENT_COPY_CODES.has(code) ? 503 : 400);
}

const TRANSIENT_COPY_CODES = new Set(['InternalError', 'ServiceUnavailable', 'SlowDown', 'RequestTimeout']);
