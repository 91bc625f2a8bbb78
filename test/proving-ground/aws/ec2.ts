/**
 * The EC2 side of the proving ground: DescribeTags only, in EC2's Query protocol (form-encoded request,
 * XML response). The product uses it to tell which started instances carry the fleet tag: EC2 state-change
 * events carry no tags and SSM does not list stopped instances.
 *
 * Request: `POST /`, `Content-Type: application/x-www-form-urlencoded`,
 * `Action=DescribeTags&Version=2016-11-15&Filter.1.Name=resource-id&Filter.1.Value.1=i-…&MaxResults=…&NextToken=…`
 * (query names from botocore `ec2/2016-11-15/service-2.json`: Filters -> `Filter`, Values -> `Value`).
 * Response: `<DescribeTagsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId/><tagSet><item>…`.
 * Errors: `<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>`
 * (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html).
 */
import { randomUUID } from 'node:crypto';
import type { SimulatedFleet } from '../types.ts';
import { decodeToken, encodeToken } from './wire.ts';

export const EC2_VERSION = '2016-11-15';
const XMLNS = `http://ec2.amazonaws.com/doc/${EC2_VERSION}/`;
/** Filter values EC2 accepts in one call, all filters together (see readFilters). */
export const MAX_FILTER_VALUES = 200;

/** An EC2 error: HTTP status, `Code` and `Message` of the `<Response><Errors>` document. */
export class Ec2Error extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
  }

  xml(requestId: string): string {
    return (
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
      `<Response><Errors><Error><Code>${esc(this.code)}</Code><Message>${esc(this.message)}</Message></Error></Errors>` +
      `<RequestID>${requestId}</RequestID></Response>`
    );
  }
}

interface TagRow {
  readonly resourceId: string;
  readonly resourceType: string;
  readonly key: string;
  readonly value: string;
}

export class Ec2Service {
  constructor(private readonly fleet: SimulatedFleet) {}

  /** Returns the XML body of a successful answer, or undefined for an action it does not know. */
  handle(action: string, params: URLSearchParams, requestId: string): string | undefined {
    if (action !== 'DescribeTags') return undefined;
    return this.describeTags(params, requestId);
  }

  /** https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeTags.html */
  private describeTags(params: URLSearchParams, requestId: string): string {
    const maxRaw = params.get('MaxResults');
    let maxResults: number | undefined;
    if (maxRaw !== null) {
      maxResults = Number(maxRaw);
      // MaxResults: "This value can be between 5 and 1000." (API_DescribeTags)
      if (!Number.isInteger(maxResults) || maxResults < 5 || maxResults > 1000) {
        throw new Ec2Error(
          'InvalidParameterValue',
          400,
          `Value ( ${maxRaw} ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.`,
        );
      }
    }
    const filters = readFilters(params);
    // Only i- instances exist in EC2; mi- hybrid nodes have no EC2 presence. Stopped and terminated
    // instances keep their tags (terminated ones are visible for a while after termination).
    const rows: TagRow[] = this.fleet
      .nodes()
      .filter((n) => n.instanceId.startsWith('i-'))
      .flatMap((n) =>
        Object.entries(n.tags).map(([key, value]) => ({
          resourceId: n.instanceId,
          resourceType: 'instance',
          key,
          value,
        })),
      );
    const matching = rows.filter((r) => filters.every((f) => f(r)));
    const query = JSON.stringify({
      op: 'DescribeTags',
      f: [...params.entries()].filter(([k]) => k.startsWith('Filter.')),
    });
    const nextToken = params.get('NextToken');
    let offset = 0;
    if (nextToken !== null) {
      try {
        offset = decodeToken(nextToken, query, matching.length);
      } catch {
        throw new Ec2Error('InvalidParameterValue', 400, `The token '${nextToken}' is invalid.`);
      }
    }
    // Without MaxResults every tag is returned at once (the EC2 default for DescribeTags).
    const page = matching.slice(offset, maxResults === undefined ? undefined : offset + maxResults);
    const end = offset + page.length;
    const items = page
      .map(
        (r) =>
          `<item><resourceId>${esc(r.resourceId)}</resourceId><resourceType>${r.resourceType}</resourceType>` +
          `<key>${esc(r.key)}</key><value>${esc(r.value)}</value></item>`,
      )
      .join('');
    const next = end < matching.length ? `<nextToken>${esc(encodeToken(query, end))}</nextToken>` : '';
    return (
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
      `<DescribeTagsResponse xmlns="${XMLNS}"><requestId>${requestId}</requestId>` +
      `<tagSet>${items}</tagSet>${next}</DescribeTagsResponse>`
    );
  }
}

/**
 * `Filter.N.Name` / `Filter.N.Value.M`: names `key`, `resource-id`, `resource-type`, `value`, `tag:<key>`
 * (case-sensitive; several values are OR-ed, several filters AND-ed - API_DescribeTags, API_Filter). An
 * unknown name is `InvalidParameterValue` "The filter 'x' is invalid" (the text EC2 answers, e.g.
 * github.com/aws/aws-cli/issues/7225). Values may use the `*` and `?` wildcards.
 */
function readFilters(params: URLSearchParams): ((r: TagRow) => boolean)[] {
  const byIndex = new Map<number, { name?: string; values: string[] }>();
  for (const [k, v] of params) {
    const m = /^Filter\.(\d+)\.(Name|Value\.(\d+))$/.exec(k);
    if (!m) continue;
    const i = Number(m[1]);
    const f = byIndex.get(i) ?? { values: [] };
    if (m[2] === 'Name') f.name = v;
    else f.values.push(v);
    byIndex.set(i, f);
  }
  // EC2 counts the values of every filter of one call together: "FilterLimitExceeded: The request uses
  // too many filters or too many filter values" (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html),
  // answered with "The maximum number of filter values specified on a single call is 200".
  const values = [...byIndex.values()].reduce((sum, f) => sum + f.values.length, 0);
  if (values > MAX_FILTER_VALUES) {
    throw new Ec2Error(
      'FilterLimitExceeded',
      400,
      `The maximum number of filter values specified on a single call is ${MAX_FILTER_VALUES}`,
    );
  }
  return [...byIndex.values()].map((f) => {
    const name = f.name ?? '';
    const any = (x: string) => f.values.some((pattern) => wildcard(pattern).test(x));
    if (name === 'key') return (r) => any(r.key);
    if (name === 'value') return (r) => any(r.value);
    if (name === 'resource-id') return (r) => any(r.resourceId);
    if (name === 'resource-type') return (r) => any(r.resourceType);
    if (name.startsWith('tag:')) {
      // tag:<key> on DescribeTags matches the tags whose key is <key> and value one of the values.
      const key = name.slice(4);
      return (r) => r.key === key && any(r.value);
    }
    throw new Ec2Error('InvalidParameterValue', 400, `The filter '${name}' is invalid`);
  });
}

function wildcard(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

function esc(text: string): string {
  // Element text only (no attributes are built from input): &, < and > are all that need escaping.
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

export function newRequestId(): string {
  return randomUUID();
}
