export { PublishWorkflow, progressQuery } from './publish';
export { PruneWorkflow, pruneProgressQuery } from './prune';
export { AppLockWorkflow } from './app-lock';
export { RollbackWorkflow, rollbackPhaseQuery } from './rollback';
export { AuditWorkflow } from './audit';
