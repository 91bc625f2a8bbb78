/**
 * The command history as a record of who is at work: the Comments of commands of the given documents
 * sent since a moment, all of them or only those not finished on every target yet. ListCommands filters
 * by document name, time sent and ExecutionStage ("Executing: Returns a list of command executions that
 * are currently still running"), up to 5 filters together. The caller stops reading at the first command
 * it was looking for, so a read usually costs one call.
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ListCommands.html
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CommandFilter.html
 */
import { type CommandFilter, ListCommandsCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { AwsCaller } from './aws-call.ts';

/** ListCommands: "Maximum value of 50." */
const PAGE_SIZE = 50;

export interface CommandSent {
  readonly comment: string;
  /** Epoch ms SSM says it was sent. */
  readonly requestedAt: number;
}

export interface HistoryQuery {
  readonly documentNames: readonly string[];
  /** Epoch ms: only commands sent after it. */
  readonly sentAfter: number;
  /** Only commands still executing on some target. */
  readonly executingOnly: boolean;
}

/** Commands matching the query, newest pages first as SSM gives them, until `wanted` accepts one. */
export async function findCommand(
  ssm: SSMClient,
  caller: AwsCaller,
  query: HistoryQuery,
  wanted: (command: CommandSent) => boolean,
): Promise<CommandSent | undefined> {
  const sentAfter = new Date(query.sentAfter).toISOString().replace(/\.\d{3}Z$/, 'Z');
  for (const documentName of query.documentNames) {
    let nextToken: string | undefined;
    do {
      const page = await caller.call('ListCommands', (abortSignal) =>
        ssm.send(
          new ListCommandsCommand({
            Filters: filtersFor(documentName, sentAfter, query.executingOnly),
            MaxResults: PAGE_SIZE,
            NextToken: nextToken,
          }),
          { abortSignal },
        ),
      );
      for (const c of page.Commands ?? []) {
        const command = { comment: c.Comment ?? '', requestedAt: c.RequestedDateTime?.getTime() ?? 0 };
        if (wanted(command)) return command;
      }
      nextToken = page.NextToken;
    } while (nextToken);
  }
  return undefined;
}

function filtersFor(documentName: string, sentAfter: string, executingOnly: boolean): CommandFilter[] {
  const filters: CommandFilter[] = [
    { key: 'DocumentName', value: documentName },
    // "The date and time value must be in ISO 8601 format" (CommandFilter, InvokedAfter).
    { key: 'InvokedAfter', value: sentAfter },
  ];
  if (executingOnly) filters.push({ key: 'ExecutionStage', value: 'Executing' });
  return filters;
}
