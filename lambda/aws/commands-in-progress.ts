/**
 * The command history as a record of who is at work: the Comments of commands of the given documents,
 * sent since a moment and not finished on every target yet. ListCommands filters by document name,
 * time sent and ExecutionStage ("Executing: Returns a list of command executions that are currently
 * still running"), up to 5 filters together.
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ListCommands.html
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CommandFilter.html
 */
import { ListCommandsCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { AwsCaller } from './aws-call.ts';

/** ListCommands: "Maximum value of 50." */
const PAGE_SIZE = 50;

export interface CommandInProgress {
  readonly comment: string;
  /** Epoch ms SSM says it was sent. */
  readonly requestedAt: number;
}

export async function commandsInProgress(
  ssm: SSMClient,
  caller: AwsCaller,
  documentNames: readonly string[],
  sentAfter: number,
): Promise<CommandInProgress[]> {
  const found: CommandInProgress[] = [];
  for (const documentName of documentNames) {
    let nextToken: string | undefined;
    do {
      const page = await caller.call('ListCommands', (abortSignal) =>
        ssm.send(
          new ListCommandsCommand({
            Filters: [
              { key: 'DocumentName', value: documentName },
              { key: 'ExecutionStage', value: 'Executing' },
              // "The date and time value must be in ISO 8601 format" (CommandFilter, InvokedAfter).
              { key: 'InvokedAfter', value: new Date(sentAfter).toISOString().replace(/\.\d{3}Z$/, 'Z') },
            ],
            MaxResults: PAGE_SIZE,
            NextToken: nextToken,
          }),
          { abortSignal },
        ),
      );
      for (const c of page.Commands ?? []) {
        found.push({ comment: c.Comment ?? '', requestedAt: c.RequestedDateTime?.getTime() ?? 0 });
      }
      nextToken = page.NextToken;
    } while (nextToken);
  }
  return found;
}
