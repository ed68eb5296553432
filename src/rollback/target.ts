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
 * Fails unless the bucket still holds the build or copies of what a later build replaced:
 * `copies` are the target's own copies, by path (see planRestore for copies of other builds).
 */
export function assertRestorable(app: string, target: StoredManifest, objects: ReadonlyMap<string, ListedObject>, copies: ReadonlyMap<string, ListedObject>): void {
  const id = target.manifest.publishId ?? '';
  restorePlanOrThrow(app, target, [target], objects, new Map([...copies].map(([p, c]) => [`${id}/${p}`, c])));
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

/** Where one file of the target comes back from: a copy under `pushcache/builds/<app>/`. */
export interface RestoreStep {
  path: string;
  /** The copy's key below `pushcache/builds/<app>/`: `<build id>/<path>`. */
  copy: string;
}

/** What a rollback writes, in order: other files first, entry files next, fed-mods.json last. */
export interface RestorePlan {
  restore: RestoreStep[];
  /** Files of the target already in place at their data key, left alone. */
  inPlace: number;
}

/** Why a file of the target cannot be brought back. */
export interface Unrestorable {
  replaced: string[];
  missing: string[];
  /** Entry files whose copy is gone or damaged. */
  copies: string[];
}

/**
 * Decides how a rollback brings `target` back, or why it cannot. Every file of the target that
 * differs from what is live (size or ETag of the listing against the manifest) comes back from
 * a copy under `pushcache/builds/<app>/<build>/`: the target's own, or that of any retained build
 * that recorded the same bytes (sha256) for the path, since a publish keeps what it overwrites
 * under the newest retained build naming it. Entry files always come back from copies, as the
 * new build must own copies of its own. `copies` is keyed by `<build id>/<path>`.
 */
export function planRestore(
  app: string,
  target: StoredManifest,
  retained: readonly StoredManifest[],
  objects: ReadonlyMap<string, ListedObject>,
  copies: ReadonlyMap<string, ListedObject>,
): RestorePlan | { refused: string; unrestorable: Unrestorable } {
  const m = target.manifest;
  const build = `build ${target.timestamp} of ${app}`;
  if (m.publishId === undefined || !isBuildId(m.publishId) || !m.sizes || !m.etags) {
    return { refused: `${build} cannot be rolled back to: it was published by valpop or by a pushcache that kept no copies of entry files and no ETags`, unrestorable: { replaced: [], missing: [], copies: [] } };
  }
  // The target's own copies first, then the newest builds': any copy of the same bytes will do.
  const owners = [target, ...[...retained].filter((r) => r.key !== target.key).sort((a, b) => b.timestamp - a.timestamp)].filter(
    (r) => r.manifest.publishId !== undefined && isBuildId(r.manifest.publishId),
  );
  const copyOf = (p: string): string | undefined => {
    for (const r of owners) {
      const key = `${r.manifest.publishId}/${p}`;
      const c = copies.get(key);
      if (c && keptBytes(r.manifest, m, p, c)) return key;
    }
    return undefined;
  };
  const body: RestoreStep[] = [];
  const entries: RestoreStep[] = [];
  const bad: Unrestorable = { replaced: [], missing: [], copies: [] };
  let inPlace = 0;
  for (const p of m.files) {
    if (isEntryFile(p)) {
      const copy = copyOf(p);
      if (copy) entries.push({ path: p, copy });
      else bad.copies.push(p);
      continue;
    }
    const o = objects.get(p);
    if (sameObject(m, p, o)) {
      inPlace++;
      continue;
    }
    const copy = copyOf(p);
    if (copy) body.push({ path: p, copy });
    else (o ? bad.replaced : bad.missing).push(p);
  }
  if (bad.copies.length > 0) {
    return { refused: `${build} cannot be rolled back to: the copies of its entry files ${list(bad.copies)} are missing or damaged under pushcache/builds/`, unrestorable: bad };
  }
  const lost = bad.replaced.length + bad.missing.length;
  if (lost > 0) {
    const parts = [
      ...(bad.replaced.length ? [`${bad.replaced.length} rewritten with other content by a later build (${list(bad.replaced)})`] : []),
      ...(bad.missing.length ? [`${bad.missing.length} deleted (${list(bad.missing)})`] : []),
    ];
    return {
      refused:
        `${build} cannot be rolled back to: ${lost} of its ${m.files.length} files are no longer as it wrote them and no copy of them is kept: ` +
        `${parts.join('; ')}. Publish that build again instead`,
      unrestorable: bad,
    };
  }
  const order = restoreOrder(entries.map((e) => e.path));
  return { restore: [...body, ...order.map((p) => entries.find((e) => e.path === p)!)], inPlace };
}

/** planRestore, throwing NotRestorableError with its reason when the build cannot come back. */
export function restorePlanOrThrow(...args: Parameters<typeof planRestore>): RestorePlan {
  const plan = planRestore(...args);
  if ('refused' in plan) throw new NotRestorableError(plan.refused);
  return plan;
}

/**
 * A copy kept under `owner` holds the owner's bytes of the path; it serves the target when the
 * owner recorded the same sha256 and the copy has that size. An entry-file copy is written by
 * pushcache itself, so its ETag is checked too; a copy the go-live step made server-side may
 * carry another ETag form than the object it copied (a multipart object's), so only its size is.
 */
function keptBytes(owner: Manifest, target: Manifest, p: string, c: ListedObject): boolean {
  if (owner.sha256?.[p] === undefined || owner.sha256[p] !== target.sha256?.[p] || c.size !== target.sizes?.[p]) return false;
  return !isEntryFile(p) || (c.etag !== undefined && c.etag === owner.etags?.[p]);
}

/**
 * The retained build a go-live step or a rollback about to overwrite `object` at `path` keeps
 * it for, or undefined when none needs it: the newest build whose manifest names the path with
 * the object's size and ETag (the bytes it wrote), unless the new bytes are that build's
 * (sha256 `incoming`). Entry files are not kept here: every build has copies of its own.
 * The copy goes under the newest such build, which retention deletes last.
 */
export function keepFor(path: string, object: ListedObject, incoming: string | undefined, retained: readonly StoredManifest[]): string | undefined {
  const newestFirst = [...retained].sort((a, b) => b.timestamp - a.timestamp);
  for (const r of newestFirst) {
    const decision = keepDecision(path, object, incoming, r.manifest);
    if (decision !== 'not-named') return decision ?? undefined;
  }
  return undefined;
}

/**
 * What one manifest says about keeping `object` (see keepFor): the build to keep it for, null
 * when nothing is to be kept, 'not-named' when this build did not write those bytes there and
 * an older one must be asked.
 */
export function keepDecision(path: string, object: ListedObject, incoming: string | undefined, m: Manifest): string | null | 'not-named' {
  if (isEntryFile(path) || object.etag === undefined) return null;
  if (m.publishId === undefined || !isBuildId(m.publishId)) return 'not-named';
  if (m.sizes?.[path] !== object.size || m.etags?.[path] !== object.etag) return 'not-named';
  return m.sha256?.[path] !== undefined && m.sha256[path] === incoming ? null : m.publishId;
}

/**
 * The ETag the rollback's manifest records for a file. A server-side copy of an object uploaded
 * in parts gets the plain MD5 form, not the `<md5>-<parts>` the target recorded: a file restored
 * from a kept copy then has another ETag for the same bytes. Recording the one it has lets the
 * next overwrite see whose bytes it holds (and keep them). Only that case is taken from the
 * listing (made under the go-live turn, right after the restore); otherwise the recorded one stays.
 */
export function restoredEtag(recorded: string, size: number, listed: ListedObject | undefined): string {
  const multipart = (etag: string) => /-\d+$/.test(etag);
  return multipart(recorded) && listed?.etag !== undefined && listed.size === size && !multipart(listed.etag) ? listed.etag : recorded;
}
