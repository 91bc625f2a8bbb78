/**
 * Shareable test events for the function in the Lambda console (and `sam remote invoke
 * --test-event-name`), stored where the console keeps them: one OpenAPI 3 schema named
 * `_<function name>-schema` in the EventBridge Schemas registry `lambda-testevent-schemas`,
 * each event under `components.examples.<name>.value`.
 *
 * Format source: AWS SAM CLI, samcli/lib/shared_test_events/lambda_shared_test_event.py
 * (github.com/aws/aws-sam-cli): LAMBDA_TEST_EVENT_REGISTRY = "lambda-testevent-schemas",
 * schema name f"_{function_name}-schema", type "OpenApi3", examples added as
 * {"value": event, "x-metadata": {"invocationType": "RequestResponse"}}; and
 * https://docs.aws.amazon.com/lambda/latest/dg/testing-functions.html#creating-shareable-events.
 *
 * The registry is shared by every function in the account and region and the console
 * creates it on first use, so the stack creates it only when it is missing (CreateRegistry,
 * a ConflictException meaning it exists) and never deletes it; the schema is the stack's own
 * resource and is deleted with it.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import { CfnSchema } from 'aws-cdk-lib/aws-eventschemas';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { AwsCustomResource, AwsCustomResourcePolicy, PhysicalResourceId } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';

export const TEST_EVENT_REGISTRY = 'lambda-testevent-schemas';

/** The schema the console reads a function's shareable test events from. */
export function testEventSchemaName(functionName: string): string {
  return `_${functionName}-schema`;
}

/** An instance id of the right shape, for the operator to replace. */
export const PLACEHOLDER_INSTANCE_ID = 'i-0123456789abcdef0';

/** The shareable test events, by the name the console lists them under. */
export function testEvents(account: string, region: string): Record<string, object> {
  return {
    'Reconcile everything': {},
    'Dry run': { dryRun: true },
    'One host (dry run)': { dryRun: true, instanceIds: [PLACEHOLDER_INSTANCE_ID] },
    'Instance started': {
      version: '0',
      id: '7bf73129-1428-4cd3-a780-95db273d1602',
      'detail-type': 'EC2 Instance State-change Notification',
      source: 'aws.ec2',
      account,
      time: '2026-11-30T07:00:00Z',
      region,
      resources: [`arn:aws:ec2:${region}:${account}:instance/${PLACEHOLDER_INSTANCE_ID}`],
      detail: { 'instance-id': PLACEHOLDER_INSTANCE_ID, state: 'running' },
    },
  };
}

/** The schema document: OpenAPI 3, as SAM CLI's discover_schema + add_event_to_schema produce it. */
export function testEventSchemaDocument(events: Record<string, object>): object {
  return {
    openapi: '3.0.0',
    info: { version: '1.0.0', title: 'Event' },
    paths: {},
    components: {
      schemas: { Event: { type: 'object' } },
      examples: Object.fromEntries(
        Object.entries(events).map(([name, value]) => [
          name,
          { value, 'x-metadata': { invocationType: 'RequestResponse' } },
        ]),
      ),
    },
  };
}

export interface ConsoleTestEventsProps {
  readonly functionName: string;
}

export class ConsoleTestEvents extends Construct {
  readonly schema: CfnSchema;
  readonly registry: AwsCustomResource;

  constructor(scope: Construct, id: string, props: ConsoleTestEventsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const registryArn = stack.formatArn({
      service: 'schemas',
      resource: 'registry',
      resourceName: TEST_EVENT_REGISTRY,
    });
    const createRegistry = {
      service: 'schemas',
      action: 'CreateRegistry',
      parameters: {
        RegistryName: TEST_EVENT_REGISTRY,
        Description: 'Shareable test events of Lambda functions (used by the Lambda console).',
      },
      physicalResourceId: PhysicalResourceId.of(TEST_EVENT_REGISTRY),
      // Already there (the console, SAM CLI or another stack made it): nothing to do.
      ignoreErrorCodesMatching: 'ConflictException',
    };
    this.registry = new AwsCustomResource(this, 'Registry', {
      // No onDelete: other functions' test events live in the same registry.
      onCreate: createRegistry,
      onUpdate: createRegistry,
      policy: AwsCustomResourcePolicy.fromStatements([
        new PolicyStatement({ actions: ['schemas:CreateRegistry'], resources: [registryArn] }),
      ]),
      installLatestAwsSdk: false,
    });

    this.schema = new CfnSchema(this, 'Schema', {
      registryName: TEST_EVENT_REGISTRY,
      schemaName: testEventSchemaName(props.functionName),
      type: 'OpenApi3',
      description: `Shareable Lambda console test events of ${props.functionName}.`,
      content: stack.toJsonString(testEventSchemaDocument(testEvents(stack.account, stack.region))),
    });
    this.schema.node.addDependency(this.registry);

    acknowledgeCustomResourceProvider(stack);
  }
}

/**
 * The AwsCustomResource provider is one singleton function per stack that CDK builds; its
 * role gets the AWS managed basic-execution policy and its runtime is CDK's choice.
 */
function acknowledgeCustomResourceProvider(stack: Stack): void {
  const provider = stack.node.tryFindChild('AWS679f53fac002430cb0da5b7982bd2287');
  if (!provider) return;
  Validations.of(provider).acknowledge({
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
    reason:
      'The CDK-built provider of the test-event registry custom resource runs once per deployment and only needs the basic execution policy to write its own logs.',
  });
}
