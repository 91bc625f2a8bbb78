/**
 * Where the stack's alarms would send their notifications: CloudWatch `DescribeAlarms` and SNS
 * `GetTopicAttributes`, which `npm run ops -- preflight` reads to tell whether the alarms have
 * somewhere to go. The proving ground holds the alarms the stack deploys for its environment and
 * the topic they notify; tests change both to see preflight fail.
 *
 * CloudWatch speaks AWS JSON 1.0 (`X-Amz-Target: GraniteServiceVersion20100801.DescribeAlarms`, the
 * SDK's `AwsJson1_0Protocol` with `awsQueryCompatible`); errors carry `__type`, `message` and the
 * header `x-amzn-query-error: Code;Sender`.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html
 *
 * SNS speaks the Query protocol (form in: `Action=GetTopicAttributes&Version=2010-03-31&TopicArn=…`,
 * XML out, `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`).
 * https://docs.aws.amazon.com/sns/latest/api/API_GetTopicAttributes.html and
 * https://docs.aws.amazon.com/sns/latest/api/CommonErrors.html
 */
import {
  AwsError,
  constraint,
  epochSeconds,
  type Json,
  optionalInt,
  optionalList,
  optionalString,
  Violations,
} from './wire.ts';

export const SNS_VERSION = '2010-03-31';
const SNS_XMLNS = `http://sns.amazonaws.com/doc/${SNS_VERSION}/`;

export interface FakeAlarm {
  readonly name: string;
  /** SNS topic ARNs notified on ALARM. */
  readonly actions: readonly string[];
}

export interface FakeTopic {
  confirmed: number;
  pending: number;
}

/** DescribeAlarms' MaxRecords: "Valid Range: Minimum value of 1. Maximum value of 100." Default 50. */
const MAX_RECORDS = 100;
/** DescribeAlarms' AlarmNames: "Array Members: Maximum number of 100 items." */
const MAX_ALARM_NAMES = 100;

export class CloudWatchService {
  readonly alarms: FakeAlarm[] = [];
  private readonly created = new Date();

  constructor(
    private readonly region: string,
    private readonly account: string,
  ) {}

  handle(operation: string, input: Json): unknown {
    return operation === 'DescribeAlarms' ? this.describeAlarms(input) : undefined;
  }

  private describeAlarms(input: Json): Json {
    const v = new Violations();
    const prefix = optionalString(input, 'AlarmNamePrefix');
    // AlarmNamePrefix: "Length Constraints: Minimum length of 1. Maximum length of 255."
    if (prefix !== undefined && (prefix.length < 1 || prefix.length > 255)) {
      v.add(
        prefix,
        'alarmNamePrefix',
        prefix.length < 1 ? constraint.minLength(1) : constraint.maxLength(255),
      );
    }
    const max = optionalInt(input, 'MaxRecords');
    if (max !== undefined && (max < 1 || max > MAX_RECORDS)) {
      v.add(max, 'maxRecords', max < 1 ? constraint.min(1) : constraint.max(MAX_RECORDS));
    }
    // AlarmNames.member.N (API_DescribeAlarms): "Array Members: Maximum number of 100 items. Length
    // Constraints: Minimum length of 1. Maximum length of 255." The alarms of exactly these names, in any state; a name no
    // alarm has is simply not in the answer (no error).
    const names = optionalList(input, 'AlarmNames')?.map(String);
    if (names !== undefined && names.length > MAX_ALARM_NAMES) {
      v.add(names, 'alarmNames', constraint.maxLength(MAX_ALARM_NAMES));
    }
    names?.forEach((name, i) => {
      if (name.length < 1 || name.length > 255) {
        v.add(
          name,
          `alarmNames.${i + 1}.member`,
          name.length < 1 ? constraint.minLength(1) : constraint.maxLength(255),
        );
      }
    });
    v.throwIfAny();
    // "If this parameter is specified, you cannot specify AlarmNames."
    if (prefix !== undefined && names !== undefined) {
      throw queryCompatible(
        'InvalidParameterCombinationException',
        'InvalidParameterCombination',
        'AlarmNamePrefix and AlarmNames cannot be used together.',
      );
    }
    const selected = this.alarms
      .filter((a) => prefix === undefined || a.name.startsWith(prefix))
      .filter((a) => names === undefined || names.includes(a.name))
      .sort((a, b) => a.name.localeCompare(b.name));
    const offset = decode(optionalString(input, 'NextToken'));
    const page = selected.slice(offset, offset + (max ?? 50));
    const next = offset + page.length;
    return {
      MetricAlarms: page.map((a) => ({
        AlarmName: a.name,
        AlarmArn: `arn:aws:cloudwatch:${this.region}:${this.account}:alarm:${a.name}`,
        ActionsEnabled: true,
        AlarmActions: a.actions,
        OKActions: a.actions,
        InsufficientDataActions: [],
        StateValue: 'OK',
        StateUpdatedTimestamp: epochSeconds(this.created),
        AlarmConfigurationUpdatedTimestamp: epochSeconds(this.created),
      })),
      CompositeAlarms: [],
      ...(next < selected.length ? { NextToken: Buffer.from(String(next)).toString('base64') } : {}),
    };
  }
}

function decode(token: string | undefined): number {
  if (token === undefined) return 0;
  const offset = Number(Buffer.from(token, 'base64').toString('utf8'));
  if (!Number.isInteger(offset) || offset < 0)
    throw queryCompatible('InvalidNextToken', 'InvalidNextToken', "The service couldn't process the token.");
  return offset;
}

/**
 * A CloudWatch client error as the JSON protocol carries it for a Query-compatible service: `__type`
 * is the model's shape name, the `x-amzn-query-error` header the old Query error code.
 */
function queryCompatible(shape: string, code: string, message: string): AwsError {
  return Object.assign(new AwsError(shape, 400, message, 'message'), { queryError: `${code};Sender` });
}

/** An SNS error: HTTP status, Code and Message of the ErrorResponse document. */
export class SnsError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
  }

  xml(requestId: string): string {
    return (
      `<ErrorResponse xmlns="${SNS_XMLNS}"><Error><Type>Sender</Type><Code>${esc(this.code)}</Code>` +
      `<Message>${esc(this.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`
    );
  }
}

export class SnsService {
  readonly topics = new Map<string, FakeTopic>();

  constructor(private readonly account: string) {}

  /** The XML body of a successful answer, or undefined for an action it does not know. */
  handle(action: string, params: URLSearchParams, requestId: string): string | undefined {
    if (action !== 'GetTopicAttributes') return undefined;
    if (params.get('Version') !== SNS_VERSION) {
      throw new SnsError(
        'InvalidParameterValue',
        400,
        `Version ${params.get('Version') ?? '(none)'} is not supported.`,
      );
    }
    const arn = params.get('TopicArn');
    // TopicArn is required; a malformed ARN is InvalidParameter, an unknown topic NotFound (HTTP 404).
    if (!arn) throw new SnsError('InvalidParameter', 400, 'Invalid parameter: TopicArn');
    if (!/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/.test(arn)) {
      throw new SnsError('InvalidParameter', 400, 'Invalid parameter: TopicArn');
    }
    const topic = this.topics.get(arn);
    if (!topic) throw new SnsError('NotFound', 404, 'Topic does not exist');
    const attributes: Record<string, string> = {
      TopicArn: arn,
      Owner: this.account,
      DisplayName: '',
      SubscriptionsConfirmed: String(topic.confirmed),
      SubscriptionsPending: String(topic.pending),
      SubscriptionsDeleted: '0',
    };
    const entries = Object.entries(attributes)
      .map(([key, value]) => `<entry><key>${esc(key)}</key><value>${esc(value)}</value></entry>`)
      .join('');
    return (
      `<GetTopicAttributesResponse xmlns="${SNS_XMLNS}"><GetTopicAttributesResult><Attributes>${entries}</Attributes>` +
      `</GetTopicAttributesResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></GetTopicAttributesResponse>`
    );
  }
}

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
