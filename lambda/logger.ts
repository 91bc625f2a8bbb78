import { Logger } from '@aws-lambda-powertools/logger';
import { SERVICE_NAME } from '../shared/names.ts';
import { redactingReplacer } from './redaction.ts';

/** The function's one logger: structured JSON, every string redacted. */
export const logger = new Logger({
  serviceName: SERVICE_NAME,
  jsonReplacerFn: redactingReplacer,
});
