import type { References } from '../contract/references';

/**
 * The reference gate (issue 17): a build goes live only if every file of the app that its
 * fed-mods.json and index.html load is in the build or already in the bucket. Pure; the
 * activity in src/activities/reference-gate.ts reads the files and asks the bucket.
 */

/** What the build's entry files load that the build itself does not hold: the only paths the bucket is asked about. */
export function referencesOutsideBuild(buildFiles: ReadonlySet<string>, references: References): string[] {
  return references.inApp.filter((p) => !buildFiles.has(p)).sort();
}

export interface GateVerdict {
  /** Paths under data/<app>/ that are loaded but exist nowhere: the build must not go live. */
  missing: string[];
  /** Loaded paths found only in the bucket (an older build's chunk): allowed. */
  inBucket: string[];
  /** Loaded paths the build holds. */
  inBuild: number;
  /** Other apps' paths and absolute URLs: reported, never required. */
  external: string[];
  /** Parts of the entry files that could not be read: reported, never fatal. */
  problems: string[];
}

/**
 * `existing` holds the paths under `data/<app>/` the bucket was found to have; only those that
 * `referencesOutsideBuild` returned need to be in it.
 */
export function referenceGate(buildFiles: ReadonlySet<string>, references: References, existing: ReadonlySet<string>): GateVerdict {
  const outside = referencesOutsideBuild(buildFiles, references);
  return {
    missing: outside.filter((p) => !existing.has(p)),
    inBucket: outside.filter((p) => existing.has(p)),
    inBuild: references.inApp.length - outside.length,
    external: [...references.external].sort(),
    problems: references.problems,
  };
}
