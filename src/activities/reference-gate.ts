import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { log } from '@temporalio/activity';
import pMap from 'p-map';
import { listAppObjects } from '../bucket/listings';
import { dataKey, ENTRY_POINT } from '../contract/keys';
import { fedModsReferences, htmlReferences, mergeReferences, type References } from '../contract/references';
import { MissingReferencesError, SourceChangedError } from '../errors';
import { referenceGate, referencesOutsideBuild } from '../source/reference-gate';
import type { ScannedSource } from '../source/scan';
import type { Storage } from '../storage/storage';

/**
 * Up to this many paths outside the build, one exact-prefix listing each (a HEAD in effect, and
 * usually zero of them); beyond it, one listing of the whole app is cheaper.
 */
const PER_KEY_LOOKUPS = 32;

export interface CheckReferencesInput {
  app: string;
  sourceDir: string;
  listDigest: string;
}

/** Counts only: the history keeps no file lists. */
export interface ReferenceGateSummary {
  /** Files of the app the entry files load. */
  references: number;
  /** Of those, found only in the bucket (older builds' files). */
  inBucket: number;
  /** Other apps' paths and absolute URLs, reported in the Job's log. */
  external: number;
  /** Parts of the entry files that could not be read, reported in the Job's log. */
  problems: number;
}

export interface ReferenceGateDeps {
  storage: Storage;
  /** The tree this publish staged, rescanned and checked after a Job restart. */
  stagedTree: (sourceDir: string, listDigest: string) => Promise<ScannedSource>;
}

/** The reference gate's activity: runs on the Job, which alone has the build's files. */
export function createReferenceGateActivities(deps: ReferenceGateDeps) {
  return {
    /**
     * Fails with MissingReferences when the build's fed-mods.json or index.html loads a file of
     * the app that is neither in the build nor in the bucket; only such paths cost a request.
     */
    async checkReferences(input: CheckReferencesInput): Promise<ReferenceGateSummary> {
      const tree = await deps.stagedTree(input.sourceDir, input.listDigest);
      const references = await readBuildReferences(input.app, tree);
      const files = new Set(tree.files.map((f) => f.path));
      const existing = await existingPaths(deps.storage, input.app, referencesOutsideBuild(files, references));
      const verdict = referenceGate(files, references, existing);
      if (verdict.missing.length > 0) throw new MissingReferencesError(input.app, verdict.missing);
      if (verdict.problems.length > 0) {
        // Not fatal: the gate judges paths, and what cannot be read names none; but a browser may fail on it too.
        log.warn(`the entry files of the build of ${input.app} have ${verdict.problems.length} parts that could not be read: ${verdict.problems.slice(0, 5).join('; ')}`, { app: input.app });
      }
      if (verdict.external.length > 0) {
        log.info(`the build of ${input.app} loads ${verdict.external.length} files outside the app, not checked: ${verdict.external.slice(0, 5).join(', ')}`, { app: input.app });
      }
      return { references: references.inApp.length, inBucket: verdict.inBucket.length, external: verdict.external.length, problems: verdict.problems.length };
    },
  };
}

/** What the build's own fed-mods.json and index.html load; a build without them references nothing. */
async function readBuildReferences(app: string, tree: ScannedSource): Promise<References> {
  const found: References[] = [];
  for (const file of tree.files) {
    if (file.path !== ENTRY_POINT && file.path !== 'index.html') continue;
    let body: Buffer;
    try {
      body = await readFile(path.join(tree.root, file.path));
    } catch (err) {
      throw new SourceChangedError(`${file.path} can no longer be read (${(err as NodeJS.ErrnoException).code}) since this publish staged it`);
    }
    // The gate must judge the bytes that go live, not a file rewritten since staging.
    if (createHash('sha256').update(body).digest('hex') !== file.sha256) {
      throw new SourceChangedError(`${file.path} changed since this publish staged it; start a new publish for the new tree`);
    }
    const text = body.toString('utf8');
    found.push(file.path === ENTRY_POINT ? fedModsReferences(app, text) : htmlReferences(app, text));
  }
  return mergeReferences(...found);
}

/** Which of `paths` exist under data/<app>/. */
async function existingPaths(storage: Storage, app: string, paths: string[]): Promise<Set<string>> {
  if (paths.length === 0) return new Set();
  if (paths.length > PER_KEY_LOOKUPS) return new Set([...(await listAppObjects(storage, app)).keys()].filter((p) => paths.includes(p)));
  const found = await pMap(
    paths,
    async (p) => {
      const key = dataKey(app, p);
      for await (const o of storage.list(key)) if (o.key === key) return p;
      return undefined;
    },
    { concurrency: 8 },
  );
  return new Set(found.filter((p): p is string => p !== undefined));
}
