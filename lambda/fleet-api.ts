/**
 * The one narrow interface between the reconcile steps and AWS: list the fleet (or named
 * nodes), ask EC2 which started instances belong to it, run a document on hosts (which
 * cancels whatever it gives up on). `aws/ssm-fleet.ts` implements it with SSM and EC2; unit tests of the loop
 * implement it with an in-memory fleet.
 */

import type { CommandSent, HistoryQuery } from './aws/command-history.ts';
import type { DocumentRun } from './aws/command-runner.ts';
import type { FleetListing } from './aws/inventory.ts';
import type { InvocationResult } from './aws/invocation-result.ts';

export type { ManagedNode } from './aws/inventory.ts';
export type { CommandSent, DocumentRun, FleetListing, HistoryQuery, InvocationResult };

export interface FleetApi {
  /** Every managed node carrying the fleet tag. */
  listFleet(): Promise<FleetListing>;
  /**
   * Of these ids, the managed nodes SSM knows now, any ping status (ids it does not know yet are left
   * out). What it costs grows with the ids, not with the fleet; it does not look at tags.
   */
  describeNodes(instanceIds: readonly string[]): Promise<FleetListing>;
  /** Of these instance ids, the EC2 instances that carry the fleet tag. */
  taggedInstances(instanceIds: readonly string[]): Promise<ReadonlySet<string>>;
  /** The first command of SSM's history matching the query that `wanted` accepts, if any. */
  findCommand(
    query: HistoryQuery,
    wanted: (command: CommandSent) => boolean,
  ): Promise<CommandSent | undefined>;
  /** Runs a document on hosts: one result per host, never an exception for one host's trouble. */
  runDocument(run: DocumentRun): Promise<Map<string, InvocationResult>>;
}
