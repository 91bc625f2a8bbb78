/** The fleet as SSM and EC2 show it: the FleetApi the reconcile steps use, for one run. */
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { FleetTag } from '../../shared/config.ts';
import type { FleetApi } from '../fleet-api.ts';
import { progressLogger } from '../report-log.ts';
import type { AwsCaller } from './aws-call.ts';
import { findCommand } from './command-history.ts';
import { CommandRunner } from './command-runner.ts';
import { CommandTracker } from './command-tracker.ts';
import { instancesWithTag } from './fleet-tags.ts';
import { describeNodes, listFleet } from './inventory.ts';

export interface SsmFleetOptions {
  readonly ssm: SSMClient;
  readonly ec2: EC2Client;
  readonly caller: AwsCaller;
  readonly fleetTag: FleetTag;
  readonly pollIntervalMs: number;
  readonly maxPollIntervalMs: number;
  readonly pickupSeconds: number;
  readonly now?: () => number;
  readonly log?: {
    info(message: string, extra?: object): void;
    warn(message: string, extra?: object): void;
  };
}

export function ssmFleet(o: SsmFleetOptions): FleetApi {
  const tracker = new CommandTracker({
    ssm: o.ssm,
    caller: o.caller,
    pollIntervalMs: o.pollIntervalMs,
    maxPollIntervalMs: o.maxPollIntervalMs,
    ...(o.now ? { now: o.now } : {}),
    ...(o.log ? { warn: (m: string, e?: object) => o.log?.warn(m, e) } : {}),
  });
  const runner = new CommandRunner({
    ssm: o.ssm,
    caller: o.caller,
    tracker,
    pickupSeconds: o.pickupSeconds,
    ...(o.now ? { now: o.now } : {}),
  });
  return {
    listFleet: () => listFleet(o.ssm, o.caller, o.fleetTag),
    describeNodes: (ids) => describeNodes(o.ssm, o.caller, ids),
    findCommand: (query, wanted) => findCommand(o.ssm, o.caller, query, wanted),
    taggedInstances: (ids) => instancesWithTag(o.ec2, o.caller, o.fleetTag, ids),
    runDocument: (run) => {
      // Long runs show their progress one command (up to 50 hosts) at a time.
      const progress = o.log ? progressLogger(o.log) : undefined;
      return runner.run(run, (p) => {
        if (p.batches > 1) progress?.({ step: run.comment.step, ...p });
      });
    },
  };
}
