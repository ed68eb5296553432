import { z } from 'zod';
import { DEFAULT_MAX_ATTEMPTS, requiredAppName, type RawOptions } from '../config';
import { ConfigError } from '../errors';
import type { RollbackSettings } from './types';

const RollbackSchema = z.object({
  app: requiredAppName(),
  // A manifest's timestamp is all digits; an image reference never is.
  to: z
    .string({ message: '--to is required: the timestamp of a build (see pushcache status) or the image it was published from' })
    .min(1, '--to is empty')
    .transform((to) => (/^\d+$/.test(to) ? { timestamp: Number(to) } : { image: to })),
  maxAttempts: z.string().regex(/^\d+$/, '--max-attempts must be a whole number').transform(Number),
});

/** The flags of `rollback`, parsed once; every problem is reported at once. */
export function resolveRollbackSettings(options: RawOptions): RollbackSettings {
  const parsed = RollbackSchema.safeParse({
    app: typeof options.prefix === 'string' ? options.prefix : undefined,
    to: typeof options.to === 'string' ? options.to : undefined,
    maxAttempts: typeof options.maxAttempts === 'string' && options.maxAttempts !== '' ? options.maxAttempts : DEFAULT_MAX_ATTEMPTS,
  });
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => i.message));
  return parsed.data;
}
