import { z } from 'zod';
import { FileRecordSchema, type FileRecord } from './manifest';
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
});
export type StagingRecord = z.infer<typeof StagingRecordSchema>;

export function parseStagingRecord(key: string, body: string): StagingRecord {
  return checkRecord(key, StagingRecordSchema, parseJsonObject(key, body));
}

export type { FileRecord };
