/** Inputs and results of rollback activities. They travel through workflow history: counts and keys, no file lists. */

/** Which build to bring back: the one with this manifest timestamp, or the newest with this image. */
export type RollbackTo = { timestamp: number } | { image: string };

/** What `pushcache rollback` was asked to do, once its options are parsed (rollback/settings.ts). */
export interface RollbackSettings {
  app: string;
  to: RollbackTo;
  maxAttempts: number;
}

export interface CheckRollbackInput {
  bucket: string;
  app: string;
  to: RollbackTo;
}

/** The build a rollback restores, after every one of its files was found as it wrote them. */
export interface RollbackTarget {
  manifestKey: string;
  timestamp: number;
  image: string;
  /** The run that wrote the build; its entry-file copies are kept under this ID. */
  buildId: string;
  files: number;
  bytes: number;
  entryFiles: number;
  /** Files a restore writes: those that differ from what is live, entry files always (absent before issue 20). */
  restores?: number;
  /** Recorded in the new manifest only when every build since the target used it (see rollbackCacheMaxAge). */
  cacheMaxAge?: number;
}

export interface RestoreEntryFilesInput {
  bucket: string;
  app: string;
  /** The target's manifest. */
  manifestKey: string;
  /** Whose copies are restored, and under which ID the rollback keeps copies of its own. */
  fromBuild: string;
  toBuild: string;
}

export interface CommitRollbackInput {
  bucket: string;
  app: string;
  /** The target's manifest; the new one lists the same files. */
  manifestKey: string;
  /** The rollback's run ID, recorded as the new manifest's publishId. */
  publishId: string;
  /** The rollback's start second; the next free one is taken if a build has it. */
  timestamp: number;
  cacheMaxAge?: number;
}
