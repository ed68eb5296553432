import { z } from 'zod';
import { CorruptRecordError } from '../errors';
import { relPathProblem } from './names';
import { checkRecord, parseJsonObject } from './records';

/** Per-file facts pushcache adds to the manifest; valpop's decoder ignores unknown fields. */
export const FileRecordSchema = z.object({
  path: z.string(),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** The ETag the object gets when pushcache uploads these bytes; lets a republish skip it. */
  etag: z.string().optional(),
});
export type FileRecord = z.infer<typeof FileRecordSchema>;

/**
 * An object whose values are all of one type, checked in one loop: a manifest holds an entry
 * per file in each of its maps, and checking each through a schema made reading the newest
 * manifests of a 10,000-file app cost more than parsing their JSON.
 */
function recordOf<T extends 'string' | 'number'>(type: T) {
  return z.custom<Record<string, T extends 'string' ? string : number>>(
    (value) => typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === type),
    { message: `expected an object of ${type}s` },
  );
}

const CurrentManifestSchema = z.looseObject({
  files: z.array(z.string()),
  image: z.string().optional().default(''),
  valpopImage: z.string().optional(),
  timestamp: z.number().int().optional(),
  publishId: z.string().optional(),
  cacheMaxAge: z.number().int().optional(),
  sha256: recordOf('string').optional(),
  sizes: recordOf('number').optional(),
  etags: recordOf('string').optional(),
  rollbackOf: z.number().int().optional(),
});
const LegacyManifestSchema = z.array(z.string());

export interface Manifest {
  files: string[];
  image: string;
  valpopImage?: string;
  timestamp?: number;
  /** Which publish wrote it; lets a retried write recognise its own manifest. */
  publishId?: string;
  /** The max-age the build's objects were written with; a republish with another one rewrites them. */
  cacheMaxAge?: number;
  sha256?: Record<string, string>;
  sizes?: Record<string, number>;
  /** The ETag each file's object got when pushcache wrote it: a rollback checks no later build replaced it. */
  etags?: Record<string, string>;
  /** Set on the manifest a rollback writes: the timestamp of the build it brought back. */
  rollbackOf?: number;
}

export function parseManifest(key: string, body: string): Manifest {
  const json = parseJsonObject(key, body);
  const legacy = LegacyManifestSchema.safeParse(json);
  const manifest: Manifest = legacy.success ? { files: legacy.data, image: '' } : checkRecord(key, CurrentManifestSchema, json);
  const bad = manifest.files.find((f) => relPathProblem(f) !== undefined);
  if (bad !== undefined) throw new CorruptRecordError(key, `lists an unsafe path ${JSON.stringify(bad)}`);
  return manifest;
}

export interface ManifestInput {
  files: FileRecord[];
  image: string;
  valpopImage?: string;
  timestamp: number;
  publishId: string;
  cacheMaxAge?: number;
  rollbackOf?: number;
}

/**
 * Serialises the contract's body plus pushcache's extra fields. The three per-file maps are
 * filled in one pass (Object.fromEntries over three mapped arrays took a third longer for
 * 10,000 files, on the go-live step's critical path). They have no prototype, so a file named
 * `__proto__` is a key like any other, as it was with Object.fromEntries.
 */
export function renderManifest(input: ManifestInput): string {
  const sha256: Record<string, string> = Object.create(null);
  const sizes: Record<string, number> = Object.create(null);
  const etags: Record<string, string> = Object.create(null);
  let anyEtag = false;
  for (const f of input.files) {
    sha256[f.path] = f.sha256;
    sizes[f.path] = f.size;
    if (f.etag) {
      etags[f.path] = f.etag;
      anyEtag = true;
    }
  }
  const body: Manifest = {
    files: input.files.map((f) => f.path),
    image: input.image,
    ...(input.valpopImage ? { valpopImage: input.valpopImage } : {}),
    timestamp: input.timestamp,
    publishId: input.publishId,
    ...(input.cacheMaxAge !== undefined ? { cacheMaxAge: input.cacheMaxAge } : {}),
    sha256,
    sizes,
    ...(anyEtag ? { etags } : {}),
    ...(input.rollbackOf !== undefined ? { rollbackOf: input.rollbackOf } : {}),
  };
  return JSON.stringify(body);
}
