import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { ContentMismatchError } from '../errors';

/**
 * Passes a streamed body through while counting and hashing it, and holds its last chunk back
 * until the source has ended: only when the byte count (and the sha256, when one was staged)
 * match is that chunk released and the stream ended. Otherwise the stream errors with
 * ContentMismatchError, so whatever consumes it (a PUT with a Content-Length, a multipart
 * upload) never receives the whole body and cannot complete the object. A source that grows
 * fails as soon as it passes the staged size; one that shrinks fails as soon as it ends, instead
 * of leaving the store waiting for bytes that never come.
 */
export class VerifyingStream extends Transform {
  /** Set when the body did not match; the error the stream was destroyed with. */
  mismatch: ContentMismatchError | undefined;
  private readonly hash: Hash | undefined;
  private held: Buffer | undefined;
  private seen = 0;
  private released = 0;

  constructor(
    private readonly key: string,
    private readonly size: number,
    private readonly sha256?: string,
    private readonly onProgress?: (bytesSent: number) => void,
  ) {
    super();
    this.hash = sha256 === undefined ? undefined : createHash('sha256');
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.size) return callback(this.fail(`more than the ${this.size} bytes staged`));
    this.hash?.update(chunk);
    if (this.held) this.release(this.held);
    this.held = chunk;
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (this.seen !== this.size) return callback(this.fail(`${this.seen} bytes instead of the ${this.size} staged`));
    const actual = this.hash?.digest('hex');
    if (actual !== undefined && actual !== this.sha256) return callback(this.fail(`sha256 ${actual} instead of ${this.sha256}`));
    if (this.held) this.release(this.held);
    this.held = undefined;
    callback();
  }

  private release(chunk: Buffer): void {
    this.push(chunk);
    this.released += chunk.length;
    this.onProgress?.(this.released);
  }

  private fail(detail: string): ContentMismatchError {
    this.held = undefined;
    this.mismatch = new ContentMismatchError(this.key, detail);
    return this.mismatch;
  }
}
