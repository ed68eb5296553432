import type { BucketRequests } from './signed-put';
import { canonicalQuery, EMPTY_SHA256 } from './sigv4';
import { textOf } from './xml-text';
import type { ObjectInfo } from './storage';

/**
 * ListObjectsV2, signed and parsed here rather than through the SDK. A republish lists the app's
 * objects and the prune after it lists them again, and a prune of 100,000 objects lists them
 * all: the SDK's generic XML parser was the Job's largest CPU cost after hashing on a republish.
 * Keys are asked for URL-encoded (`encoding-type=url`), so a key with characters XML 1.0 cannot
 * carry still lists exactly. Path-style addressing only, as SignedPut.
 */
export class SignedList {
  constructor(private readonly requests: BucketRequests) {}

  /** Every object under `prefix`, in the store's (byte) order, page by page. */
  async *objects(prefix: string): AsyncIterable<ObjectInfo> {
    let token: string | undefined;
    do {
      const page = parseListPage(await this.page(prefix, token));
      yield* page.objects;
      token = page.next;
    } while (token !== undefined);
  }

  private async page(prefix: string, token: string | undefined): Promise<string> {
    const query = canonicalQuery({ 'list-type': '2', 'encoding-type': 'url', 'max-keys': '1000', prefix, ...(token !== undefined ? { 'continuation-token': token } : {}) });
    const body = await this.requests.send('GET', this.requests.bucketPath, { 'x-amz-content-sha256': EMPTY_SHA256 }, undefined, { query, collect: true });
    return body!.toString('utf8');
  }
}

/**
 * One ListObjectsV2 answer asked for with `encoding-type=url`: its objects and the token of the
 * next page. An answer that is not a listing is an error, never an empty page: a prune must not
 * take a garbled answer for "no objects".
 */
export function parseListPage(xml: string): { objects: ObjectInfo[]; next?: string } {
  if (!/<ListBucketResult[\s>]/.test(xml)) throw new Error(`the store answered a listing with something else: ${xml.slice(0, 200)}`);
  const urlEncoded = textOf(xml, 'EncodingType') === 'url';
  const objects: ObjectInfo[] = [];
  for (const [, entry] of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
    const rawKey = textOf(entry, 'Key');
    if (rawKey === undefined) throw new Error('the store listed an object without a key');
    const etag = textOf(entry, 'ETag');
    const modified = textOf(entry, 'LastModified');
    objects.push({
      key: urlEncoded ? decodeURIComponent(rawKey.replace(/\+/g, ' ')) : rawKey,
      size: Number(textOf(entry, 'Size') ?? 0),
      lastModified: modified ? new Date(modified) : new Date(0),
      etag: etag?.replace(/"/g, ''),
    });
  }
  const truncated = textOf(xml, 'IsTruncated') === 'true';
  const next = textOf(xml, 'NextContinuationToken');
  if (truncated && next === undefined) throw new Error('the store cut a listing short without a token for the rest');
  return { objects, ...(truncated ? { next } : {}) };
}
