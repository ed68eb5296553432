import type { ListedObject } from '../bucket/listings';
import { ENTRY_POINT } from '../contract/keys';
import type { Manifest } from '../contract/manifest';

/**
 * The audit of one app (issue 17): do the objects the retained builds name still exist, with
 * the bytes their manifests recorded, and is the live fed-mods.json the newest build's? Pure:
 * one listing of data/<app>/, the manifests and the live fed-mods.json's sha256 are its inputs.
 *
 * Builds overwrite shared paths (index.html, unhashed chunks) in place, so an object is held
 * to the newest manifest that names it; older builds are only required to find it present.
 */

export interface AuditedManifest {
  key: string;
  timestamp: number;
  /** Undefined when the manifest could not be read; then `problem` says why. */
  manifest?: Manifest;
  problem?: string;
}

export interface MissingObject {
  /** Path under data/<app>/. */
  path: string;
  /** The newest manifest naming it. */
  build: string;
}

export interface MismatchedObject {
  path: string;
  build: string;
  /** What differs: size, or ETag where the manifest recorded one. */
  field: 'size' | 'etag';
  expected: string;
  found: string;
}

export interface AppAudit {
  app: string;
  ok: boolean;
  manifests: number;
  /** Distinct paths the readable manifests name. */
  objects: number;
  missing: MissingObject[];
  mismatched: MismatchedObject[];
  unreadable: Array<{ key: string; problem: string }>;
  /** The newest readable build: what is live, and what a repair or a republish starts from. */
  newest?: { key: string; timestamp: number; image: string; publishId?: string };
  /** Why the live fed-mods.json is not the newest build's; absent when it is (or cannot be told). */
  liveProblem?: string;
}

export interface AuditInput {
  app: string;
  manifests: AuditedManifest[];
  /** One listing of data/<app>/, by path. */
  listing: ReadonlyMap<string, ListedObject>;
  /** sha256 of the live fed-mods.json; undefined when there is none. */
  liveFedModsSha256?: string;
}

export function auditApp(input: AuditInput): AppAudit {
  const readable = input.manifests.filter((m): m is AuditedManifest & { manifest: Manifest } => m.manifest !== undefined).sort((a, b) => b.timestamp - a.timestamp);
  const unreadable = input.manifests.filter((m) => m.manifest === undefined).map((m) => ({ key: m.key, problem: m.problem ?? 'unreadable' }));
  const missing: MissingObject[] = [];
  const mismatched: MismatchedObject[] = [];
  const seen = new Set<string>();
  // Newest first: the first manifest naming a path is the one its object must match.
  for (const { key, manifest } of readable) {
    for (const path of manifest.files) {
      if (seen.has(path)) continue;
      seen.add(path);
      const found = input.listing.get(path);
      if (!found) {
        missing.push({ path, build: key });
        continue;
      }
      const size = manifest.sizes?.[path];
      if (size !== undefined && size !== found.size) {
        mismatched.push({ path, build: key, field: 'size', expected: String(size), found: String(found.size) });
        continue;
      }
      const etag = manifest.etags?.[path];
      if (etag !== undefined && found.etag !== undefined && etag !== found.etag) mismatched.push({ path, build: key, field: 'etag', expected: etag, found: found.etag });
    }
  }
  const newest = readable[0];
  const liveProblem = newest ? liveFedModsProblem(newest.key, newest.manifest, input.listing, input.liveFedModsSha256) : undefined;
  missing.sort((a, b) => a.path.localeCompare(b.path));
  mismatched.sort((a, b) => a.path.localeCompare(b.path));
  return {
    app: input.app,
    ok: missing.length === 0 && mismatched.length === 0 && unreadable.length === 0 && liveProblem === undefined,
    manifests: input.manifests.length,
    objects: seen.size,
    missing,
    mismatched,
    unreadable,
    ...(newest ? { newest: { key: newest.key, timestamp: newest.timestamp, image: newest.manifest.image, ...(newest.manifest.publishId ? { publishId: newest.manifest.publishId } : {}) } } : {}),
    ...(liveProblem ? { liveProblem } : {}),
  };
}

function liveFedModsProblem(key: string, m: Manifest, listing: ReadonlyMap<string, ListedObject>, liveSha256: string | undefined): string | undefined {
  if (!m.files.includes(ENTRY_POINT)) return undefined;
  // A missing live fed-mods.json is already in `missing`; saying it twice helps no one.
  if (!listing.has(ENTRY_POINT) || liveSha256 === undefined) return undefined;
  const recorded = m.sha256?.[ENTRY_POINT];
  if (recorded !== undefined && recorded !== liveSha256) return `the live fed-mods.json is not the one ${key} (the newest build) recorded`;
  return undefined;
}

/** At most `limit` keys of each kind, with the counts: what a workflow result and memo can hold. */
export interface AppAuditSummary extends Omit<AppAudit, 'missing' | 'mismatched' | 'unreadable'> {
  missingCount: number;
  mismatchedCount: number;
  unreadableCount: number;
  missing: MissingObject[];
  mismatched: MismatchedObject[];
  unreadable: Array<{ key: string; problem: string }>;
  /** A go-live step or a prune of the app was under way through the audit: its problems may be that run's, not damage. */
  underWay?: boolean;
}

export function summarizeAudit(audit: AppAudit, limit = 20): AppAuditSummary {
  return {
    ...audit,
    missingCount: audit.missing.length,
    mismatchedCount: audit.mismatched.length,
    unreadableCount: audit.unreadable.length,
    missing: audit.missing.slice(0, limit),
    mismatched: audit.mismatched.slice(0, limit),
    unreadable: audit.unreadable.slice(0, limit),
  };
}
