import { ENTRY_POINT, isGoLiveFile } from '../contract/keys';
import type { FileRecord } from '../contract/manifest';
import type { ExistingObject } from './upload-plan';

/** One write of the go-live step, and whether it replaces an object (which is then kept aside first). */
export interface GoLiveWrite {
  path: string;
  existed: boolean;
  /**
   * Set when the replaced object holds a retained build's bytes: its copy was made under that
   * build's copies (buildCopyKey) rather than beside the record, so a rollback can bring it back.
   */
  kept?: string;
}

/** What staging decided about the files the batches did not write. */
export interface StagedDecisions {
  /** Held back from the batches because they replace an object: always written here. */
  heldBack: ReadonlySet<string>;
  /** Found in the bucket with these bytes and headers at staging. */
  skipped: ReadonlySet<string>;
}

/**
 * What the go-live step writes, in order: every file the bucket does not hold as this build
 * has it (files that would overwrite another build's bytes were held back from the upload
 * batches, and a publish that went live meanwhile may have rewritten others), then the entry
 * and other short-cache files that are not already in place, and fed-mods.json last of all
 * unless the live one already is this build's, byte for byte with the same headers (a republish
 * of an unchanged build then writes no data object at all).
 *
 * `listing` is taken once the step holds the go-live turn, so nothing else writes the app's
 * objects until it is done (valpop excepted, which takes no lock).
 */
export function planGoLive(files: readonly FileRecord[], listing: ReadonlyMap<string, ExistingObject>, staged: StagedDecisions): GoLiveWrite[] {
  const body: GoLiveWrite[] = [];
  const entries: GoLiveWrite[] = [];
  const entryPoint: GoLiveWrite[] = [];
  for (const file of files) {
    const object = listing.get(file.path);
    const write = { path: file.path, existed: object !== undefined };
    const unchanged = inPlace(file, object);
    // Never batched, so in place only if staging found it there with the right headers too.
    if (isGoLiveFile(file.path)) {
      if (!(staged.skipped.has(file.path) && unchanged)) (file.path === ENTRY_POINT ? entryPoint : entries).push(write);
    } else if (staged.heldBack.has(file.path) || !unchanged) body.push(write);
  }
  return [...body, ...entries, ...entryPoint];
}

/** The object holds these bytes: same size and the ETag S3 gives them (MD5, or the multipart form). */
function inPlace(file: FileRecord, object: ExistingObject | undefined): boolean {
  return object !== undefined && object.size === file.size && file.etag !== undefined && object.etag === file.etag;
}

/** The groups of a go-live plan, each written in parallel, one after the other. */
export function goLiveGroups(writes: readonly GoLiveWrite[]): GoLiveWrite[][] {
  const body = writes.filter((w) => !isGoLiveFile(w.path));
  const entries = writes.filter((w) => isGoLiveFile(w.path) && w.path !== ENTRY_POINT);
  const entryPoint = writes.filter((w) => w.path === ENTRY_POINT);
  return [body, entries, entryPoint].filter((g) => g.length > 0);
}
