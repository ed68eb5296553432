/** Object keys shared with valpop and the asset proxy (see the storage contract). */

import { isShortLived } from './headers';

export const ENTRY_POINT = 'fed-mods.json';

export const dataPrefix = (app: string): string => `data/${app}/`;
export const dataKey = (app: string, relpath: string): string => `${dataPrefix(app)}${relpath}`;

export const manifestPrefix = (app: string): string => `manifests/${app}/`;
export const manifestKey = (app: string, timestamp: number): string => `${manifestPrefix(app)}${timestamp}`;

/** Returns the timestamp of a manifest key, or undefined when its last segment is not a plain integer. */
export function manifestTimestamp(key: string): number | undefined {
  const last = key.slice(key.lastIndexOf('/') + 1);
  return /^\d+$/.test(last) ? Number(last) : undefined;
}

/**
 * pushcache's own key space. Neither valpop nor the asset proxy read it: valpop lists only
 * `manifests/<app>/`, and the proxy serves only `data/` and `manifests/`.
 */
export const stagingPrefix = (app: string): string => `pushcache/staging/${app}/`;
export const stagingKey = (app: string, publishId: string): string => `${stagingPrefix(app)}${publishId}.json`;

/** A prune's list of keys to delete, written before the first delete so a retried prune resumes it. */
export const prunePlanPrefix = (app: string): string => `pushcache/prune-plans/${app}/`;
export const prunePlanKey = (app: string, planId: string): string => `${prunePlanPrefix(app)}${planId}.json`;

/**
 * Copies of each build's entry files: data/<app>/ holds only the newest ones, and a rollback
 * restores an older build's from here. Keyed by the ID of the run that wrote the build (its
 * manifest's `publishId`), not by timestamp: the copies must exist before the manifest, whose
 * timestamp is settled only when it is written (a second build in the same second takes the next).
 */
export const buildCopiesPrefix = (app: string): string => `pushcache/builds/${app}/`;
export const buildCopyPrefix = (app: string, buildId: string): string => `${buildCopiesPrefix(app)}${buildId}/`;
export const buildCopyKey = (app: string, buildId: string, relpath: string): string => `${buildCopyPrefix(app, buildId)}${relpath}`;

/** Run IDs are UUIDs; anything else a manifest claims as its publishId never names copies. */
export function isBuildId(id: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/.test(id);
}

/** The build a copy belongs to, or undefined for a key that is not `<prefix><build id>/<relpath>`. */
export function copyBuildId(app: string, key: string): string | undefined {
  const rest = key.slice(buildCopiesPrefix(app).length);
  const slash = rest.indexOf('/');
  return slash > 0 && slash < rest.length - 1 ? rest.slice(0, slash) : undefined;
}

/**
 * The files at the build root that decide what a browser loads; every build overwrites them
 * in place, so only they need copies for a rollback (hashed chunks keep their own names).
 */
export function isEntryFile(relpath: string): boolean {
  return relpath === ENTRY_POINT || relpath === 'index.html' || /^app-info[^/]*\.json$/.test(relpath);
}

/**
 * Files written only in a publish's go-live step: the entry files and every other short-cache
 * file. Browsers pick up a new one within a minute, so writing one early would make part of a
 * build live before the rest of it is in place.
 */
export function isGoLiveFile(relpath: string): boolean {
  return isEntryFile(relpath) || isShortLived(relpath);
}

/**
 * What a go-live step is about to overwrite, copied here first and kept until the new build's
 * manifest is written, so a step that fails half-way can put the previous build back.
 */
export const goLivePrefix = (app: string): string => `pushcache/go-live/${app}/`;
export const goLiveRecordKey = (app: string, publishId: string): string => `${goLivePrefix(app)}${publishId}.json`;
export const goLiveBackupKey = (app: string, publishId: string, relpath: string): string => `${goLivePrefix(app)}${publishId}/${relpath}`;

/**
 * True for a key a prune of `app` may delete: under one of the app's own prefixes, with no
 * `.` or `..` segment that a store normalising paths could resolve into another prefix.
 */
export function isAppKey(app: string, key: string): boolean {
  const prefixes = [dataPrefix(app), manifestPrefix(app), buildCopiesPrefix(app), stagingPrefix(app), prunePlanPrefix(app), goLivePrefix(app)];
  return prefixes.some((p) => key.startsWith(p) && key.length > p.length) && !key.split('/').some((s) => s === '.' || s === '..');
}
