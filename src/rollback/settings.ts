import { z } from 'zod';
import type { RawOptions } from '../config';
import { validateAppName } from '../contract/names';
import { ConfigError } from '../errors';
import type { RollbackSettings } from './types';

/** Attempts per rollback step before it fails, as for a publish. */
const DEFAULT_MAX_ATTEMPTS = '10';

const RollbackSchema = z.object({
  app: z.string({ message: '-r/--prefix (the app name) is required' }).superRefine((app, ctx) => {
    try {
      validateAppName(app);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `-r/--prefix: ${(err as Error).message}` });
    }
  }),
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
