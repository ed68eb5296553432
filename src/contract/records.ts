import { z } from 'zod';
import { CorruptRecordError } from '../errors';

/** Parses an object read from the bucket; anything malformed is a CorruptRecordError naming the key. */
export function parseJsonObject(key: string, body: string): unknown {
  try {
    return JSON.parse(body);
  } catch (err) {
    throw new CorruptRecordError(key, `not JSON (${(err as Error).message})`);
  }
}

export function checkRecord<T>(key: string, schema: z.ZodType<T>, json: unknown): T {
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new CorruptRecordError(key, z.prettifyError(parsed.error).replace(/\n/g, ' '));
  return parsed.data;
}
