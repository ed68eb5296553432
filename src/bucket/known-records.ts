import { createHash } from 'node:crypto';
import { parseStagingRecord, type StagingRecord } from '../contract/staging';
import type { Storage } from '../storage/storage';

/**
 * The staging record this process last wrote or read, so that reading it again costs a GET and
 * a hash of the bytes instead of JSON.parse and the schema check: a Job reads the record it
 * staged in the go-live step and again when it writes the manifest, and a cold schema check of
 * 10,000 files took 100-200 ms of that critical path.
 *
 * Every read still GETs the object: a record that is gone (committed by an earlier attempt,
 * discarded, pruned as stale, removed by hand) reads as gone, exactly as without this memory.
 * Only bytes equal to the remembered ones (same length and sha256) are answered from memory;
 * anything else is parsed and checked as usual. A restarted Job starts empty and reads as before.
 *
 * One record is kept: a Job runs one publish. The bytes themselves are not kept, only their
 * digest, so the memory costs the parsed record and 32 bytes, not a second copy of a record of
 * 100,000 files. Callers must not change the record they are given: later reads return it again.
 */
export class KnownStagingRecords {
  private known?: { key: string; size: number; digest: Buffer; record: StagingRecord };

  /** After `body`, the exact bytes of `record`, was written at `key`. */
  wrote(key: string, body: Buffer, record: StagingRecord): void {
    this.known = { key, size: body.length, digest: digestOf(body), record: detached(record) };
  }

  /** The staging record at `key`, parsed; undefined when it is gone. */
  async read(storage: Storage, key: string): Promise<StagingRecord | undefined> {
    const body = await storage.get(key);
    if (!body) {
      this.forget(key);
      return undefined;
    }
    const known = this.known;
    if (known?.key === key && known.size === body.length) {
      const digest = digestOf(body);
      if (digest.equals(known.digest)) return known.record;
    }
    const record = parseStagingRecord(key, body.toString('utf8'));
    this.known = { key, size: body.length, digest: digestOf(body), record };
    return record;
  }

  /** After the record at `key` was deleted (or is about to be): it is not answered from memory again. */
  forget(key: string): void {
    if (this.known?.key === key) this.known = undefined;
  }
}

function digestOf(body: Buffer): Buffer {
  return createHash('sha256').update(body).digest();
}

/**
 * The record as a read of its JSON would return it. Its file records are copied: they are the
 * scan's objects, cached for the publish's later steps and carrying more than the record's
 * fields. The rest (path lists, copies, reasons) is built for the record alone and never changed.
 */
function detached(record: StagingRecord): StagingRecord {
  return { ...record, files: record.files.map(({ path, size, sha256, etag }) => (etag === undefined ? { path, size, sha256 } : { path, size, sha256, etag })) };
}
