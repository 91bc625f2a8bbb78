/** `invoke`: runs the function now (Lambda Invoke, RequestResponse) and returns its report. */
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { Report } from './render.ts';

export class FunctionError extends Error {
  override readonly name = 'FunctionError';
}

export async function invokeFunction(
  lambda: LambdaClient,
  functionName: string,
  event: object,
): Promise<Report> {
  const response = await lambda.send(
    new InvokeCommand({
      FunctionName: functionName,
      InvocationType: 'RequestResponse',
      Payload: new TextEncoder().encode(JSON.stringify(event)),
    }),
  );
  const text = response.Payload ? new TextDecoder().decode(response.Payload) : 'null';
  if (response.FunctionError) {
    let message = text;
    try {
      const payload = JSON.parse(text) as { errorType?: string; errorMessage?: string };
      message = `${payload.errorType ?? 'Error'}: ${payload.errorMessage ?? text}`;
    } catch {
      // not JSON: show it as it is
    }
    throw new FunctionError(`The function failed (${response.FunctionError}): ${message}`);
  }
  return JSON.parse(text) as Report;
}
