import { createHash } from 'node:crypto';
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
 * A plan too large for one record (issue 16): its keys in parts under `<plan key without .json>/`,
 * written as they are decided, and this head, written last, naming each part with its key
 * count and sha256. The head is what makes the plan exist: parts without it delete nothing.
 */
export const PrunePlanHeadSchema = z.object({
  version: z.literal(2),
  app: z.string(),
  /** Every key of every part. */
  total: z.number().int().nonnegative(),
  /** The first this-many keys are manifests (deleted one batch at a time, before any object). */
  manifests: z.number().int().nonnegative(),
  parts: z.array(z.object({ key: z.string(), count: z.number().int().positive(), sha256: z.string().regex(/^[0-9a-f]{64}$/) })),
});
export type PrunePlanHead = z.infer<typeof PrunePlanHeadSchema>;

export const PrunePlanPartSchema = z.object({
  version: z.literal(2),
  app: z.string(),
  keys: z.array(z.string()),
});
export type PrunePlanPart = z.infer<typeof PrunePlanPartSchema>;

/** Where the parts of the plan at `planKey` live. */
export function prunePlanPartsPrefix(planKey: string): string {
  return `${planKey.replace(/\.json$/, '')}/`;
}

/** The key of part `index` (from 0) of the plan at `planKey`. */
export function prunePlanPartKey(planKey: string, index: number): string {
  return `${prunePlanPartsPrefix(planKey)}part-${String(index + 1).padStart(6, '0')}.json`;
}

/** A plan record of either version: the single record of version 1 or the head of version 2. */
export function parsePrunePlan(key: string, body: string): PrunePlanRecord | PrunePlanHead {
  const raw = parseJsonObject(key, body);
  if ((raw as { version?: unknown } | null)?.version !== 2) return checkPlanRecord(key, raw);
  const head = checkRecord(key, PrunePlanHeadSchema, raw);
  checkOwner(key, head.app);
  const parts = prunePlanPartsPrefix(key);
  const stray = head.parts.find((p) => !p.key.startsWith(parts) || p.key.slice(parts.length).includes('/'));
  if (stray !== undefined) throw new CorruptRecordError(key, `it names part ${JSON.stringify(stray.key)}, which is not under ${parts}`);
  const sum = head.parts.reduce((n, p) => n + p.count, 0);
  if (sum !== head.total || head.manifests > head.total) {
    throw new CorruptRecordError(key, `its parts hold ${sum} keys, its total says ${head.total} (manifests ${head.manifests})`);
  }
  return head;
}

/**
 * A part of a version-2 plan, checked against the head that names it: the same bytes (sha256),
 * the same app, the count the head recorded, and only keys of that app.
 */
export function parsePrunePlanPart(head: PrunePlanHead, index: number, body: Buffer): string[] {
  const entry = head.parts[index];
  const digest = createHash('sha256').update(body).digest('hex');
  if (digest !== entry.sha256) {
    throw new CorruptRecordError(entry.key, `its sha256 is ${digest}, not the ${entry.sha256} its plan recorded (changed since it was planned)`);
  }
  const part = checkRecord(entry.key, PrunePlanPartSchema, parseJsonObject(entry.key, body.toString('utf8')));
  if (part.app !== head.app) throw new CorruptRecordError(entry.key, `it is a part of a plan of app ${JSON.stringify(part.app)}, not ${head.app}`);
  if (part.keys.length !== entry.count) throw new CorruptRecordError(entry.key, `it lists ${part.keys.length} keys, not the ${entry.count} its plan recorded`);
  const foreign = part.keys.find((k) => !isAppKey(head.app, k));
  if (foreign !== undefined) throw new CorruptRecordError(entry.key, `it lists ${JSON.stringify(foreign)}, which is not a key of app ${head.app}`);
  return part.keys;
}

function checkOwner(key: string, app: string): void {
  if (!APP_NAME_OK(app) || !key.startsWith(prunePlanPrefix(app))) {
    throw new CorruptRecordError(key, `it is the plan of app ${JSON.stringify(app)}, which its key does not name`);
  }
}

/**
 * A plan is read back from the bucket before its keys are deleted, so it is checked like any
 * object there: it must belong to the app its key names and list only that app's keys.
 */
export function parsePrunePlanRecord(key: string, body: string): PrunePlanRecord {
  return checkPlanRecord(key, parseJsonObject(key, body));
}

function checkPlanRecord(key: string, raw: unknown): PrunePlanRecord {
  const record = checkRecord(key, PrunePlanRecordSchema, raw);
  checkOwner(key, record.app);
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
