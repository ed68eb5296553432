import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { LockGeneration } from '../contract/lock-generation';

export type { LockGeneration };

/**
 * What the per-app lock (app-lock.ts) shares with those who talk to it from outside: its
 * workflow ID, signals, query and types. They sit in their own module, as in
 * temporalio/samples-typescript's mutex sample, so the activity that signal-starts the lock
 * (activities/lock.ts) and the clients that query it (status, populate) import them without
 * importing the workflow, and the workflow imports the activity types without a cycle.
 * Workflow code: it imports only @temporalio/workflow.
 */

/**
 * `go-live` is taken by a publish that already holds the lock shared, for the step that makes
 * its build live. It is granted to one publish at a time, and only once every publish that took
 * the shared lock before it has released it: builds of one app go live in the order they
 * started, so a later build is never replaced by an earlier one.
 */
export type LockMode = 'shared' | 'exclusive' | 'go-live';

export interface LockOwner {
  workflowId: string;
  runId: string;
}

export interface LockRequest {
  /** Unique per acquisition; a repeated request with the same token is the same request. */
  token: string;
  owner: LockOwner;
  mode: LockMode;
}

export interface AppLockInput {
  bucket: string;
  app: string;
  /** Carried over by continue-as-new. */
  holders?: LockRequest[];
  waiting?: LockRequest[];
  /** Carried over by continue-as-new: see `LockGeneration`. */
  generation?: LockGeneration;
}

export interface AppLockState {
  bucket: string;
  app: string;
  holders: LockRequest[];
  waiting: LockRequest[];
  /** Absent from lock workflows started before generations were counted. */
  generation?: LockGeneration;
}

/** A grant; `generation` (the count before this grant) is absent from lock workflows started before generations. */
export interface LockGrant {
  token: string;
  generation?: LockGeneration;
}

export const lockRequestSignal = defineSignal<[LockRequest]>('lockRequest');
export const lockReleaseSignal = defineSignal<[{ token: string }]>('lockRelease');
export const lockGrantedSignal = defineSignal<[LockGrant]>('lockGranted');
export const lockStateQuery = defineQuery<AppLockState>('lockState');

/** One lock per app of a bucket: the same app name in another bucket is another app. */
export const appLockWorkflowId = (bucket: string, app: string): string => `pushcache-lock/${bucket}/${app}`;

/** The lock workflow's registered name and signature, for signal-with-start from outside workflow code. */
export const APP_LOCK_WORKFLOW_TYPE = 'AppLockWorkflow';
export type AppLockWorkflowFunction = (input: AppLockInput) => Promise<void>;
