import { z } from 'zod';
import { CorruptRecordError } from '../errors';
import { FileRecordSchema, type FileRecord } from './manifest';

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
});
export type StagingRecord = z.infer<typeof StagingRecordSchema>;

export function parseStagingRecord(key: string, body: string): StagingRecord {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (err) {
    throw new CorruptRecordError(key, `not JSON (${(err as Error).message})`);
  }
  const parsed = StagingRecordSchema.safeParse(json);
  if (!parsed.success) throw new CorruptRecordError(key, z.prettifyError(parsed.error).replace(/\n/g, ' '));
  return parsed.data;
}

export type { FileRecord };
