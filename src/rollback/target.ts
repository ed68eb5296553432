import { ENTRY_POINT, isBuildId, isEntryFile } from '../contract/keys';
import type { Manifest } from '../contract/manifest';
import type { StoredManifest } from '../bucket/manifests';
import type { ExistingObject } from '../source/upload-plan';
import { NotRestorableError } from './errors';
import type { RollbackTo } from './types';

/**
 * Deciding whether a build can be brought back: pure functions of the app's manifests and of
 * listings, so every refusal is unit-tested without a bucket.
 */

/** What a listing says about an object. */
export type ListedObject = ExistingObject;

/** Paths shown in an error before "and N more". */
const SHOWN = 5;

export function describeTo(to: RollbackTo): string {
  return 'timestamp' in to ? `build ${to.timestamp}` : `the newest build with image ${to.image}`;
}

/** The manifest a rollback restores: the one with that timestamp, or the newest with that image. */
export function resolveTarget(app: string, manifests: readonly StoredManifest[], to: RollbackTo): StoredManifest {
  const newestFirst = [...manifests].sort((a, b) => b.timestamp - a.timestamp);
  const found = 'timestamp' in to ? newestFirst.find((m) => m.timestamp === to.timestamp) : newestFirst.find((m) => m.manifest.image === to.image);
  if (found) return found;
  const retained = newestFirst.slice(0, SHOWN).map((m) => `${m.timestamp}${m.manifest.image ? ` (${m.manifest.image})` : ''}`);
  throw new NotRestorableError(
    `${app} has no ${'timestamp' in to ? `build with timestamp ${to.timestamp}` : `build with image ${to.image}`}; ` +
      (retained.length ? `the newest retained builds are ${retained.join(', ')} (see pushcache status --prefix ${app})` : 'it has no builds'),
  );
}

/**
 * Fails unless the bucket still holds the build as it was written: a copy of every entry file,
 * and every other file with the size and ETag its manifest recorded. A path a later build
 * rewrote with other bytes cannot be brought back (data files are overwritten in place).
 */
export function assertRestorable(app: string, target: StoredManifest, objects: ReadonlyMap<string, ListedObject>, copies: ReadonlyMap<string, ListedObject>): void {
  const m = target.manifest;
  const build = `build ${target.timestamp} of ${app}`;
  if (m.publishId === undefined || !isBuildId(m.publishId) || !m.sizes || !m.etags) {
    throw new NotRestorableError(`${build} cannot be rolled back to: it was published by valpop or by a pushcache that kept no copies of entry files and no ETags`);
  }
  const missingCopies = m.files.filter((p) => isEntryFile(p) && !sameObject(m, p, copies.get(p)));
  if (missingCopies.length > 0) {
    throw new NotRestorableError(`${build} cannot be rolled back to: the copies of its entry files ${list(missingCopies)} are missing or damaged under pushcache/builds/`);
  }
  const missing: string[] = [];
  const replaced: string[] = [];
  for (const p of m.files) {
    if (isEntryFile(p)) continue;
    const o = objects.get(p);
    if (!o) missing.push(p);
    else if (!sameObject(m, p, o)) replaced.push(p);
  }
  if (missing.length + replaced.length > 0) {
    const parts = [
      ...(replaced.length ? [`${replaced.length} rewritten with other content by a later build (${list(replaced)})`] : []),
      ...(missing.length ? [`${missing.length} deleted (${list(missing)})`] : []),
    ];
    throw new NotRestorableError(
      `${build} cannot be rolled back to: ${missing.length + replaced.length} of its ${m.files.length} files are no longer as it wrote them: ` +
        `${parts.join('; ')}. Publish that build again instead`,
    );
  }
}

function sameObject(m: Manifest, path: string, o: ListedObject | undefined): boolean {
  return o !== undefined && o.size === m.sizes?.[path] && o.etag !== undefined && o.etag === m.etags?.[path];
}

function list(paths: readonly string[]): string {
  const shown = paths.slice(0, SHOWN).join(', ');
  return paths.length > SHOWN ? `${shown} and ${paths.length - SHOWN} more` : shown;
}

/**
 * The max-age the new manifest may claim. A republish skips a file only when the newest build
 * naming it recorded the max-age it would write, so the claim must be true of the objects:
 * it is, when every build since the target wrote with the target's max-age (any of them may
 * have rewritten the same bytes). Otherwise no claim is made, and the next publish rewrites
 * the files once instead of trusting headers nobody knows.
 */
export function rollbackCacheMaxAge(target: StoredManifest, manifests: readonly StoredManifest[]): number | undefined {
  const maxAge = target.manifest.cacheMaxAge;
  if (maxAge === undefined) return undefined;
  const later = manifests.filter((m) => m.timestamp > target.timestamp);
  return later.every((m) => m.manifest.cacheMaxAge === maxAge) ? maxAge : undefined;
}

/** The order entry files go back: fed-mods.json last, because it is what makes the build live. */
export function restoreOrder(files: readonly string[]): string[] {
  const entries = files.filter(isEntryFile);
  return [...entries.filter((p) => p !== ENTRY_POINT), ...entries.filter((p) => p === ENTRY_POINT)];
}
