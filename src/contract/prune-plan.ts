import { z } from 'zod';
import { isAppKey, prunePlanPrefix } from './keys';
import { validateAppName } from './names';
import { checkRecord, parseJsonObject } from './records';
import { CorruptRecordError } from '../errors';

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

/**
 * A plan is read back from the bucket before its keys are deleted, so it is checked like any
 * object there: it must belong to the app its key names and list only that app's keys.
 */
export function parsePrunePlanRecord(key: string, body: string): PrunePlanRecord {
  const record = checkRecord(key, PrunePlanRecordSchema, parseJsonObject(key, body));
  if (!APP_NAME_OK(record.app) || !key.startsWith(prunePlanPrefix(record.app))) {
    throw new CorruptRecordError(key, `it is the plan of app ${JSON.stringify(record.app)}, which its key does not name`);
  }
  const foreign = record.keys.find((k) => !isAppKey(record.app, k));
  if (foreign !== undefined) throw new CorruptRecordError(key, `it lists ${JSON.stringify(foreign)}, which is not a key of app ${record.app}`);
  return record;
}

const APP_NAME_OK = (app: string): boolean => {
  try {
    validateAppName(app);
    return true;
  } catch {
    return false;
  }
};
