import { WorkflowFailedError, type Client, type WorkflowHandleWithFirstExecutionRunId, type WorkflowStartOptions } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import type { TemporalSettings } from '../config';
import { innermostMessage, oneLine } from '../errors';
import type { Report } from '../telemetry/log';
import { runUrl } from './workflow-id';

/** What every client command does with a run: start or join it, link it, wait for it. */

/** What a client command needs to start a run named by its start time, link it and report on it. */
export interface RunDeps {
  client: Client;
  bucket: string;
  temporal: TemporalSettings;
  report: Report;
  /** Names the run; defaults to the current time. */
  now?: () => Date;
}

/**
 * Starts a workflow (or joins the run already using its ID, when the options' conflict policy
 * says so), with `searchAttributes` when the namespace has them. A namespace without pushcache's
 * search attributes must not stop a command; its runs are then just not filterable by app in
 * the UI, which `onMissingAttributes` may tell the operator.
 */
export async function startOrJoin<T extends Workflow>(
  client: Client,
  workflowType: string,
  options: WorkflowStartOptions<T>,
  searchAttributes?: WorkflowStartOptions<T>['searchAttributes'],
  onMissingAttributes?: () => void,
): Promise<WorkflowHandleWithFirstExecutionRunId<T>> {
  if (searchAttributes === undefined) return client.workflow.start<T>(workflowType, options);
  try {
    return await client.workflow.start<T>(workflowType, { ...options, searchAttributes });
  } catch (err) {
    if (!/search attribute/i.test(oneLine(err))) throw err;
    onMissingAttributes?.();
    return client.workflow.start<T>(workflowType, options);
  }
}

/** Reports the run's page in the Temporal Web UI, when its URL is configured; the event carries `run`'s fields. */
export function runLink<F extends { workflowId: string; runId: string }>(temporal: TemporalSettings, report: Report, run: F): void {
  if (!temporal.uiUrl) return;
  const url = runUrl(temporal.uiUrl, temporal.namespace, run.workflowId, run.runId);
  report(`follow it at ${url}`, { event: 'run-link', ...run, url });
}

/** The run's result; a failed run becomes `failed` (the command's own error) with its innermost message. */
export async function resultOrFailure<R>(result: Promise<R>, failed: new (message: string) => Error): Promise<R> {
  try {
    return await result;
  } catch (err) {
    throw err instanceof WorkflowFailedError ? new failed(innermostMessage(err)) : err;
  }
}
