import { encodeKey, type BucketRequests } from './signed-put';
import { EMPTY_SHA256 } from './sigv4';
import { failureInAnswer } from './xml-text';

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
    throw failureInAnswer(xml, 'a copy');
  }
}
