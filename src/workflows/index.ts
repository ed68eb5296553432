export { PublishWorkflow, progressQuery } from './publish';
