import { Logger } from '@aws-lambda-powertools/logger';
import { redactingReplacer } from './redaction.ts';

/** The function's one logger: structured JSON, every string redacted. */
export const logger = new Logger({
  serviceName: 'kasm-token-reconciler',
  jsonReplacerFn: redactingReplacer,
});
