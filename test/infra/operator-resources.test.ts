/**
 * What the stack deploys for operators: shareable console test events, the dashboard, the
 * saved Logs Insights queries and the outputs the operator CLI and README refer to.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  PLACEHOLDER_INSTANCE_ID,
  TEST_EVENT_REGISTRY,
  testEventSchemaName,
} from '../../infra/console-test-events.ts';
import { LOG_QUERIES } from '../../infra/log-queries.ts';
import { PROJECT_ROOT } from '../../infra/reconciler-function.ts';
import { parseEvent } from '../../shared/event-schema.ts';
import { COMPONENT_STATUSES } from '../../shared/token-rules.ts';
import { synthStacks } from './synth-stacks.ts';

// biome-ignore lint/suspicious/noExplicitAny: template JSON is untyped; the assertions check its shape.
type Json = any;

const ACCOUNT = '111122223333';
const REGION = 'eu-west-1';
const ENVIRONMENTS = {
  dev: { account: ACCOUNT, region: REGION, registrationSecret: { nameOrArn: 'kasm/dev/token' } },
  agnostic: { registrationSecret: { nameOrArn: 'kasm/agnostic/token' } },
  quiet: {
    registrationSecret: { nameOrArn: 'kasm/quiet/token' },
    consoleTestEvents: false,
    dashboard: false,
  },
};

let dev: Template;
let agnostic: Template;
let quiet: Template;
beforeAll(() => {
  const { templates } = synthStacks(ENVIRONMENTS);
  dev = templates.dev as Template;
  agnostic = templates.agnostic as Template;
  quiet = templates.quiet as Template;
});

function only(template: Template, type: string): { id: string; properties: Json; raw: Json } {
  const entries = Object.entries(template.findResources(type));
  expect(entries).toHaveLength(1);
  const [id, raw] = entries[0] as [string, Json];
  return { id, properties: raw.Properties, raw };
}

describe('the shareable console test events', () => {
  it('live in the schema the Lambda console reads for this function, in the lambda-testevent-schemas registry', () => {
    // Act
    const schema = only(dev, 'AWS::EventSchemas::Schema');

    // Assess: SAM CLI (aws/aws-sam-cli, samcli/lib/shared_test_events/lambda_shared_test_event.py)
    // uses LAMBDA_TEST_EVENT_REGISTRY = "lambda-testevent-schemas", schema f"_{function_name}-schema",
    // type OPEN_API_TYPE = "OpenApi3".
    expect(TEST_EVENT_REGISTRY).toBe('lambda-testevent-schemas');
    expect(schema.properties).toMatchObject({
      RegistryName: 'lambda-testevent-schemas',
      SchemaName: '_KasmTokenReconciler-dev-schema',
      Type: 'OpenApi3',
    });
    expect(testEventSchemaName('my-fn')).toBe('_my-fn-schema');
  });

  it('hold an OpenAPI 3 document whose components.examples carry each event as value with invocationType metadata', () => {
    // Act
    const document = JSON.parse(only(dev, 'AWS::EventSchemas::Schema').properties.Content);

    // Assess: the shape SAM CLI's discover_schema returns and add_event_to_schema extends
    // ({"openapi":"3.0.0","info":{"version":"1.0.0","title":"Event"},"paths":{},"components":
    // {"schemas":{...},"examples":{NAME:{"value":EVENT,"x-metadata":{"invocationType":"RequestResponse"}}}}});
    // get_event_from_schema requires components.examples.NAME.value.
    expect(document).toMatchObject({
      openapi: '3.0.0',
      info: { version: '1.0.0', title: 'Event' },
      paths: {},
      components: { schemas: { Event: { type: 'object' } } },
    });
    const examples = document.components.examples as Record<string, Json>;
    expect(Object.keys(examples)).toStrictEqual([
      'Reconcile everything',
      'Dry run',
      'One host (dry run)',
      'Instance started',
    ]);
    for (const example of Object.values(examples)) {
      expect(Object.keys(example).sort()).toStrictEqual(['value', 'x-metadata']);
      expect(example['x-metadata']).toStrictEqual({ invocationType: 'RequestResponse' });
    }
    expect(examples['Reconcile everything'].value).toStrictEqual({});
    expect(examples['Dry run'].value).toStrictEqual({ dryRun: true });
    expect(examples['One host (dry run)'].value).toStrictEqual({
      dryRun: true,
      instanceIds: [PLACEHOLDER_INSTANCE_ID],
    });
    expect(examples['Instance started'].value).toMatchObject({
      'detail-type': 'EC2 Instance State-change Notification',
      source: 'aws.ec2',
      account: ACCOUNT,
      region: REGION,
      detail: { 'instance-id': PLACEHOLDER_INSTANCE_ID, state: 'running' },
    });
  });

  it('are each an event the handler accepts, so a console user can run them as they are', () => {
    // Act
    const examples = JSON.parse(only(dev, 'AWS::EventSchemas::Schema').properties.Content).components
      .examples as Record<string, { value: unknown }>;
    const requests = Object.fromEntries(
      Object.entries(examples).map(([name, example]) => [name, parseEvent(example.value)]),
    );

    // Assess
    expect(requests['Reconcile everything']).toMatchObject({ dryRun: false });
    expect(requests['Dry run']).toMatchObject({ dryRun: true });
    expect(requests['One host (dry run)']).toMatchObject({
      dryRun: true,
      instanceIds: [PLACEHOLDER_INSTANCE_ID],
    });
    expect(requests['Instance started']).toMatchObject({ instanceIds: [PLACEHOLDER_INSTANCE_ID] });
  });

  it('name the deploying account and region in the instance-start sample of an environment-agnostic stack', () => {
    // Act
    const content = only(agnostic, 'AWS::EventSchemas::Schema').properties.Content;

    // Assess
    const parts = JSON.stringify(content);
    expect(parts).toContain('{"Ref":"AWS::AccountId"}');
    expect(parts).toContain('{"Ref":"AWS::Region"}');
  });

  it('create the registry only when it is missing, never delete it, and are created after it', () => {
    // Act
    const registry = only(dev, 'Custom::AWS');
    const schema = only(dev, 'AWS::EventSchemas::Schema');
    const create = JSON.parse(registry.properties.Create);

    // Assess
    dev.resourceCountIs('AWS::EventSchemas::Registry', 0);
    expect(create).toMatchObject({
      service: 'schemas',
      action: 'CreateRegistry',
      parameters: { RegistryName: 'lambda-testevent-schemas' },
      ignoreErrorCodesMatching: 'ConflictException',
    });
    expect(registry.properties.Delete).toBeUndefined();
    expect(schema.raw.DependsOn).toContain(registry.id);
  });

  it('let the registry custom resource create exactly that registry, nothing else', () => {
    // Act
    const policies = Object.values(dev.findResources('AWS::IAM::Policy'))
      .map((policy: Json) => policy.Properties)
      .filter((policy: Json) => policy.PolicyName.startsWith('ConsoleTestEventsRegistry'));

    // Assess
    expect(policies).toHaveLength(1);
    expect(policies[0].PolicyDocument.Statement).toStrictEqual([
      {
        Action: 'schemas:CreateRegistry',
        Effect: 'Allow',
        Resource: {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              `:schemas:${REGION}:${ACCOUNT}:registry/lambda-testevent-schemas`,
            ],
          ],
        },
      },
    ]);
  });

  it('are left out when the environment sets consoleTestEvents to false', () => {
    // Assess
    quiet.resourceCountIs('AWS::EventSchemas::Schema', 0);
    quiet.resourceCountIs('Custom::AWS', 0);
  });
});

describe('the dashboard', () => {
  it('shows outcomes per run, duration against the timeout, errors and throttles, dead letters and components needing attention', () => {
    // Act
    const dashboard = only(dev, 'AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboard.properties.DashboardBody);

    // Assess
    expect(dashboard.properties.DashboardName).toBe('KasmTokenReconciler-dev');
    for (const title of [
      'Outcomes per run (components, and hosts not reached)',
      'Run duration against the timeout',
      'Invocations, errors and throttles',
      'Failed runs waiting in dead-letter queues',
      'Components needing attention',
    ]) {
      expect(body).toContain(title);
    }
    for (const metric of ['Recovered', 'NeedingAttention', 'RunNotOk', 'Duration', 'Errors', 'Throttles']) {
      expect(body).toContain(`\\"${metric}\\"`);
    }
    expect(body).toContain('timeout (15 min)');
    expect(body).toContain('900000');
    expect(body).toContain('ApproximateNumberOfMessagesVisible');
    expect(body).toMatch(
      /type.{1,6}log.*Components needing attention.*SOURCE '.*filter message = \\+"needs attention/,
    );
  });

  it('is left out when the environment sets dashboard to false', () => {
    // Assess
    quiet.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
  });
});

describe('the saved Logs Insights queries', () => {
  it('are saved per environment over the function log group: needs attention, run summaries, failed runs', () => {
    // Act
    const definitions = Object.values(quiet.findResources('AWS::Logs::QueryDefinition')).map(
      (definition: Json) => definition.Properties,
    );
    const logGroup = Object.keys(quiet.findResources('AWS::Logs::LogGroup'))[0];

    // Assess
    expect(definitions.map((definition) => definition.Name)).toStrictEqual([
      'kasm-token-reconciler/quiet/Components needing attention',
      'kasm-token-reconciler/quiet/Run summaries',
      'kasm-token-reconciler/quiet/Failed runs and errors',
    ]);
    for (const definition of definitions) expect(definition.LogGroupNames).toStrictEqual([{ Ref: logGroup }]);
    expect(definitions[0].QueryString).toBe(LOG_QUERIES.needsAttention.query.toString());
    expect(definitions[0].QueryString).toContain('filter message = "needs attention"');
    expect(definitions[1].QueryString).toContain('report.summary');
  });
});

describe('the runbook in docs/operating.md', () => {
  it('has one row per report status saying what it means and what to do', () => {
    // Prepare
    const readme = readFileSync(join(PROJECT_ROOT, 'docs', 'operating.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Runbook: what each status means and what to do'));
    const rows = [...section.matchAll(/^\| `([a-z-]+)` +\| (.+?) +\| (.+?) +\|$/gm)];

    // Assess
    expect(rows.map((row) => row[1])).toStrictEqual([...COMPONENT_STATUSES]);
    for (const row of rows) {
      expect(row[2]?.length).toBeGreaterThan(10);
      expect(row[3]?.length).toBeGreaterThan(5);
    }
  });
});

describe('the stack outputs', () => {
  it('name the function and its log group', () => {
    // Act
    const outputs = dev.findOutputs('*');

    // Assess
    expect(outputs.FunctionName?.Value).toStrictEqual({ Ref: expect.stringMatching(/^ReconcilerFunction/) });
    expect(outputs.LogGroupName?.Value).toStrictEqual({ Ref: expect.stringMatching(/^ReconcilerLogs/) });
  });
});
