/**
 * What one host's invocation came to, from SSM's CommandInvocation as ListCommandInvocations
 * answers it ("Understanding command statuses", AWS Systems Manager User Guide), and the
 * short phrase an AWS error becomes in a report.
 */
import type { CommandInvocation } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { errorName } from '../../lambda/aws/aws-call.ts';
import { isNotStarted, isTerminal, resultOf } from '../../lambda/aws/invocation-result.ts';

const OUTPUT = 'ktr-probe v1\nhost unseal=1 now=1\nend';
const SKIPPED = 'Step execution skipped due to unsatisfied preconditions: "platformType"';

describe('resultOf', () => {
  it.each<[string, CommandInvocation, ReturnType<typeof resultOf>]>([
    [
      'a command never delivered (status details Undeliverable)',
      { Status: 'Failed', StatusDetails: 'Undeliverable' },
      { result: { kind: 'unreachable', detail: 'Undeliverable' } },
    ],
    [
      'an instance terminated while the command ran',
      { Status: 'Failed', StatusDetails: 'Terminated' },
      { result: { kind: 'unreachable', detail: 'Terminated' } },
    ],
    [
      'a document for another platform',
      { Status: 'Failed', StatusDetails: 'InvalidPlatform' },
      { result: { kind: 'unreachable', detail: 'InvalidPlatform' } },
    ],
    [
      'a delivery that timed out, with only the status given',
      { Status: 'TimedOut' },
      { result: { kind: 'unreachable', detail: 'TimedOut' } },
    ],
    [
      'a delivery that timed out (status details Delivery Timed Out)',
      { Status: 'TimedOut', StatusDetails: 'Delivery Timed Out' },
      { result: { kind: 'unreachable', detail: 'Delivery Timed Out' } },
    ],
    [
      'a cancelled command',
      { Status: 'Cancelled', StatusDetails: 'Cancelled' },
      { result: { kind: 'failed', detail: 'the command was cancelled' } },
    ],
    [
      'a script that ran out of time on the host, as its output',
      {
        Status: 'TimedOut',
        StatusDetails: 'ExecutionTimedOut',
        CommandPlugins: [{ Name: 'linux', Output: OUTPUT }],
      },
      { result: { kind: 'output', succeeded: false, output: OUTPUT, timedOut: true } },
    ],
    [
      "a success, leaving out the other platform's skipped step",
      {
        Status: 'Success',
        StatusDetails: 'Success',
        CommandPlugins: [
          { Name: 'windows', Output: SKIPPED },
          { Name: 'linux', Output: OUTPUT },
        ],
      },
      { result: { kind: 'output', succeeded: true, output: OUTPUT } },
    ],
    [
      'output cut before its "end" line, naming the one step to read whole',
      { Status: 'Success', CommandPlugins: [{ Name: 'linux', Output: 'ktr-probe v1\nhost' }] },
      { result: { kind: 'output', succeeded: true, output: 'ktr-probe v1\nhost' }, needsFullOutput: 'linux' },
    ],
    [
      'a step without output, naming it to read whole',
      { Status: 'Failed', StatusDetails: 'Failed', CommandPlugins: [{ Name: 'linux' }] },
      { result: { kind: 'output', succeeded: false, output: '' }, needsFullOutput: 'linux' },
    ],
    [
      'output of two steps that ran, which names no one step to read whole',
      {
        Status: 'Failed',
        CommandPlugins: [
          { Name: 'linux', Output: 'a' },
          { Name: 'windows', Output: 'b' },
        ],
      },
      { result: { kind: 'output', succeeded: false, output: 'a\nb' } },
    ],
    [
      'an invocation with no status and no steps, as an empty failed output',
      {},
      { result: { kind: 'output', succeeded: false, output: '' } },
    ],
  ])('reads %s', (_, invocation, expected) => {
    expect(resultOf(invocation)).toStrictEqual(expected);
  });
});

describe('isTerminal and isNotStarted', () => {
  it('knows an invocation finished by its status, or by status details saying it never will run', () => {
    expect(isTerminal({ Status: 'Success' })).toBe(true);
    expect(isTerminal({ Status: 'InProgress', StatusDetails: 'Undeliverable' })).toBe(true);
    expect(isTerminal({ Status: 'InProgress', StatusDetails: 'InProgress' })).toBe(false);
    expect(isTerminal({})).toBe(false);
  });

  it('knows an agent has not started an invocation only while it is Pending or Delayed', () => {
    expect(isNotStarted({ Status: 'Pending' })).toBe(true);
    expect(isNotStarted({ Status: 'Delayed' })).toBe(true);
    expect(isNotStarted({ Status: 'InProgress' })).toBe(false);
    expect(isNotStarted({})).toBe(false);
  });
});

describe('errorName', () => {
  const named = (name: string, message: string) => Object.assign(new Error(message), { name });

  it('says "Name: message" of an AWS error, and the message alone of a plain Error', () => {
    expect(errorName(named('ThrottlingException', 'Rate exceeded'))).toBe(
      'ThrottlingException: Rate exceeded',
    );
    expect(errorName(new Error('socket hang up'))).toBe('socket hang up');
  });

  it('says the name alone of an error without a message', () => {
    expect(errorName(named('InvalidInstanceId', ''))).toBe('InvalidInstanceId');
    expect(errorName(new Error(''))).toBe('Error');
  });

  it('clips a long message at 200 characters, and shows a thrown value that is no Error as text', () => {
    const long = errorName(named('ValidationException', 'x'.repeat(500)));
    expect(long).toBe(`ValidationException: ${'x'.repeat(200 - 'ValidationException: '.length)}…`);
    expect(errorName('y'.repeat(300))).toBe('y'.repeat(200));
    expect(errorName(new Error('z'.repeat(200)))).toBe('z'.repeat(200));
    expect(errorName(undefined)).toBe('undefined');
  });
});
