import { z } from 'zod';
import { CorruptRecordError } from '../errors';
import { relPathProblem } from './names';
import { checkRecord, parseJsonObject } from './records';

/**
 * Written by a publish's go-live step after it has copied aside everything it is about to
 * overwrite and before its first write: the paths in write order, and whether each existed.
 * A retried step reuses it (the objects may already hold the new bytes, so copying them aside
 * again would lose the old ones); a failed one restores from it.
 */
export const GoLiveRecordSchema = z.object({
  version: z.literal(1),
  publishId: z.string(),
  app: z.string(),
  // kept: the retained build under whose copies (pushcache/builds/<app>/<kept>/) the replaced
  // object was kept instead of beside the record; it outlives the step, for rollbacks.
  writes: z.array(z.object({ path: z.string(), existed: z.boolean(), kept: z.string().optional() })),
});
export type GoLiveRecord = z.infer<typeof GoLiveRecordSchema>;

export function parseGoLiveRecord(key: string, body: string): GoLiveRecord {
  const record = checkRecord(key, GoLiveRecordSchema, parseJsonObject(key, body));
  const bad = record.writes.find((w) => relPathProblem(w.path) !== undefined);
  if (bad) throw new CorruptRecordError(key, `lists an unsafe path ${JSON.stringify(bad.path)}`);
  return record;
}
