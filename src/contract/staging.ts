import { z } from 'zod';
import { FileRecordSchema, type FileRecord } from './manifest';
import { CorruptRecordError } from '../errors';
import { relPathProblem } from './names';
import { checkRecord, parseJsonObject } from './records';

/**
 * A staging record is written before the first upload of a publish and removed when its
 * manifest is in place. It is how the storage-only side of a publish learns the file list
 * without it passing through workflow history, and it marks files an in-flight publish relies on.
 */
export const StagingRecordSchema = z.object({
  version: z.literal(1),
  publishId: z.string(),
  app: z.string(),
  image: z.string(),
  valpopImage: z.string().optional(),
  timestamp: z.number().int(),
  listDigest: z.string(),
  files: z.array(FileRecordSchema),
  cacheMaxAge: z.number().int().optional(),
  /** Paths already in the bucket with the right bytes and headers: not uploaded by this publish. */
  skipped: z.array(z.string()).optional(),
  /**
   * Paths the bucket holds with other bytes or unknown headers: rewriting them early would change
   * the live build, so they are written in the go-live step. Absent in records of publishes
   * started before the go-live step existed, whose batches carried them.
   */
  deferred: z.array(z.string()).optional(),
  /**
   * Paths the upload batches copy server-side from another object holding the same bytes (any
   * app, any path; found by sha256 in the newest manifests), with the ETag the source must still
   * have. A copy refused by its precondition uploads instead. Absent: everything is uploaded.
   */
  copies: z.record(z.string(), z.object({ from: z.string(), etag: z.string() })).optional(),
  /** Why each path is written or not: new, changed, unverified, same-key (skipped), copy; entry-point in records staged before fed-mods.json could be skipped. */
  reasons: z.record(z.string(), z.enum(['new', 'changed', 'unverified', 'entry-point', 'same-key', 'copy'])).optional(),
});
export type StagingRecord = z.infer<typeof StagingRecordSchema>;

/** Like a manifest's, its paths must be safe: a prune keeps them, a commit names them in a manifest. */
export function parseStagingRecord(key: string, body: string): StagingRecord {
  const record = checkRecord(key, StagingRecordSchema, parseJsonObject(key, body));
  const bad = [...record.files.map((f) => f.path), ...(record.skipped ?? []), ...(record.deferred ?? []), ...Object.keys(record.copies ?? {})].find((p) => relPathProblem(p) !== undefined);
  if (bad !== undefined) throw new CorruptRecordError(key, `lists an unsafe path ${JSON.stringify(bad)}`);
  return record;
}

export type { FileRecord };
