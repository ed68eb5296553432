/** Object keys shared with valpop and the asset proxy (see the storage contract). */

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
