import { z } from 'zod';
import { checkRecord, parseJsonObject } from '../contract/records';

/**
 * The keys one prune of one app will delete, manifests first. Kept in the bucket rather than
 * in workflow history (it can hold thousands of keys); removed when the prune finishes.
 */
export const PrunePlanRecordSchema = z.object({
  version: z.literal(1),
  app: z.string(),
  keys: z.array(z.string()),
});
export type PrunePlanRecord = z.infer<typeof PrunePlanRecordSchema>;

export function parsePrunePlanRecord(key: string, body: string): PrunePlanRecord {
  return checkRecord(key, PrunePlanRecordSchema, parseJsonObject(key, body));
}
