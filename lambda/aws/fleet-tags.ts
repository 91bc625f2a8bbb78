/**
 * Which EC2 instances carry the fleet tag, asked of EC2 itself. Start events carry no
 * tags and name every instance in the account, and SSM does not list an instance until
 * its agent checks in, so this is how an instance-start run tells a booting fleet
 * member (worth waiting for) from an instance outside the fleet (not worth a second).
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeTags.html
 */
import { DescribeTagsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import type { FleetTag } from '../../shared/config.ts';
import type { AwsCaller } from './aws-call.ts';

/**
 * EC2 counts the values of all filters of one call together: past 200 the call fails with
 * FilterLimitExceeded, "The request uses too many filters or too many filter values"
 * (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html); the 200 is
 * what EC2's own answer states, not that page. Each request also carries the tag's key and
 * value (one value each), so it names at most 198 resource ids.
 */
const MAX_FILTER_VALUES = 200;
const TAG_FILTER_VALUES = 2;
const IDS_PER_REQUEST = MAX_FILTER_VALUES - TAG_FILTER_VALUES;
/** Pages hold 5 to 1000 items (MaxResults, API_DescribeTags). */
const PAGE_SIZE = 1000;

export async function instancesWithTag(
  ec2: EC2Client,
  caller: AwsCaller,
  tag: FleetTag,
  instanceIds: readonly string[],
): Promise<ReadonlySet<string>> {
  const tagged = new Set<string>();
  const ec2Ids = instanceIds.filter((id) => id.startsWith('i-'));
  for (let i = 0; i < ec2Ids.length; i += IDS_PER_REQUEST) {
    const ids = ec2Ids.slice(i, i + IDS_PER_REQUEST);
    let nextToken: string | undefined;
    do {
      const page = await caller.call('DescribeTags', (abortSignal) =>
        ec2.send(
          new DescribeTagsCommand({
            Filters: [
              { Name: 'resource-id', Values: ids },
              { Name: 'key', Values: [tag.key] },
              { Name: 'value', Values: [tag.value] },
            ],
            MaxResults: PAGE_SIZE,
            NextToken: nextToken,
          }),
          { abortSignal },
        ),
      );
      for (const t of page.Tags ?? []) {
        if (t.ResourceId && t.Key === tag.key && t.Value === tag.value) tagged.add(t.ResourceId);
      }
      nextToken = page.NextToken;
    } while (nextToken);
  }
  return tagged;
}
