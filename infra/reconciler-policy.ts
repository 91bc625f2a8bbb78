/**
 * The reconciler function's permissions, least privilege: one inline policy, no managed
 * policies. Every `*` and every wildcard ARN below is there because the API cannot be
 * scoped further, and is acknowledged to cdk-nag with that reason.
 */
import { ArnFormat, Stack, Validations } from 'aws-cdk-lib';
import { Effect, type IRole, Policy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { DocumentRole } from '../shared/documents/ssm-documents.ts';
import type { FleetTag, RegistrationSecretSettings } from './settings.ts';

export interface ReconcilerPolicyProps {
  readonly role: IRole;
  readonly logGroup: ILogGroup;
  readonly fleetTag: FleetTag;
  readonly documentNames: Readonly<Record<DocumentRole, string>>;
  readonly registrationSecret: RegistrationSecretSettings;
}

export class ReconcilerPolicy extends Construct {
  readonly policy: Policy;

  constructor(scope: Construct, id: string, props: ReconcilerPolicyProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const documentArn = (name: string) =>
      stack.formatArn({ service: 'ssm', resource: 'document', resourceName: name });
    const everyEc2Instance = stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' });
    const everyManagedInstance = stack.formatArn({
      service: 'ssm',
      resource: 'managed-instance',
      resourceName: '*',
    });

    const statements = [
      // The function's own log group only (its ARN already ends in ":*", i.e. its streams).
      new PolicyStatement({
        sid: 'WriteOwnLogs',
        effect: Effect.ALLOW,
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [props.logGroup.logGroupArn],
      }),
      // Exactly the two documents this stack deploys; no AWS-RunShellScript, no other document.
      new PolicyStatement({
        sid: 'RunOnlyReconcilerDocuments',
        effect: Effect.ALLOW,
        actions: ['ssm:SendCommand'],
        resources: [documentArn(props.documentNames.probe), documentArn(props.documentNames.push)],
      }),
      // SendCommand authorizes every target node too. `ssm:resourceTag/${TagKey}` is the
      // condition key SendCommand evaluates on the `instance` and `managed-instance` resource
      // types, so only nodes carrying the fleet tag can receive a command; untagged nodes get
      // AccessDenied. Sources:
      // https://docs.aws.amazon.com/systems-manager/latest/userguide/run-command-setting-up.html
      //   ("Restricting Run Command access based on tags")
      // https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssystemsmanager.html
      //   (SendCommand: resource types document*, instance, managed-instance; condition key ssm:resourceTag/${TagKey})
      new PolicyStatement({
        sid: 'RunOnlyOnFleetNodes',
        effect: Effect.ALLOW,
        actions: ['ssm:SendCommand'],
        resources: [everyEc2Instance, everyManagedInstance],
        conditions: { StringEquals: { [`ssm:resourceTag/${props.fleetTag.key}`]: props.fleetTag.value } },
      }),
      // These actions have no resource types in the Service Authorization Reference
      // (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssystemsmanager.html),
      // so IAM accepts only "*" for them:
      new PolicyStatement({
        sid: 'ReadCommandResultsAndInventory',
        effect: Effect.ALLOW,
        actions: [
          // ListCommands: no resource-level permissions ("*" only); one poll follows every command of a run.
          'ssm:ListCommands',
          // ListCommandInvocations: no resource-level permissions ("*" only); reads a finished command's results.
          'ssm:ListCommandInvocations',
          // GetCommandInvocation: no resource-level permissions ("*" only); reads an output longer than 2,500 characters.
          'ssm:GetCommandInvocation',
          // DescribeInstanceInformation: no resource-level permissions ("*" only); lists nodes filtered by the fleet tag.
          'ssm:DescribeInstanceInformation',
        ],
        resources: ['*'],
      }),
      // CancelCommand: no resource types listed for it either, so "*" only. The function cancels
      // only invocations of its own commands that it gave up on (a lost agent, the deadline),
      // so nothing it abandoned runs on afterwards.
      new PolicyStatement({
        sid: 'CancelAbandonedCommands',
        effect: Effect.ALLOW,
        actions: ['ssm:CancelCommand'],
        resources: ['*'],
      }),
      // Instance-start runs ask EC2 which of the started instances carry the fleet tag.
      // ec2:DescribeTags, like every ec2:Describe* action, has no resource types in the Service
      // Authorization Reference (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html),
      // so IAM accepts only "*" for it; it reads tags, nothing else.
      new PolicyStatement({
        sid: 'ReadInstanceTags',
        effect: Effect.ALLOW,
        actions: ['ec2:DescribeTags'],
        resources: ['*'],
      }),
      // The registration token's secret only. A name becomes the ARN pattern NAME-?????? because
      // Secrets Manager appends a random 6-character suffix to every secret ARN.
      new PolicyStatement({
        sid: 'ReadRegistrationToken',
        effect: Effect.ALLOW,
        actions: ['secretsmanager:GetSecretValue'],
        resources: [secretArn(stack, props.registrationSecret.nameOrArn)],
      }),
    ];
    const { kmsKeyArn } = props.registrationSecret;
    if (kmsKeyArn) {
      // The secret's customer managed key, and only when Secrets Manager asks on the function's behalf.
      statements.push(
        new PolicyStatement({
          sid: 'DecryptRegistrationTokenViaSecretsManager',
          effect: Effect.ALLOW,
          actions: ['kms:Decrypt'],
          resources: [kmsKeyArn],
          conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${stack.region}.amazonaws.com` } },
        }),
      );
    }

    this.policy = new Policy(this, 'Policy', { statements, roles: [props.role] });

    acknowledgeWildcardResources(
      this.policy,
      ['*'],
      'The actions ssm:ListCommands, ssm:ListCommandInvocations, ssm:GetCommandInvocation, ssm:DescribeInstanceInformation, ssm:CancelCommand and ec2:DescribeTags support no resource-level permissions, so the Service Authorization Reference allows only "*" for them.',
    );
    acknowledgeWildcardResources(
      this.policy,
      [everyEc2Instance, everyManagedInstance],
      `Sending commands to nodes is limited by the condition ssm:resourceTag/${props.fleetTag.key} = ${props.fleetTag.value}, so only fleet nodes can be targeted and only with the two reconciler documents.`,
    );
  }
}

/** A full ARN is used as given; a name becomes the ARN pattern with the 6-character suffix. */
export function secretArn(stack: Stack, nameOrArn: string): string {
  if (nameOrArn.startsWith('arn:')) return nameOrArn;
  return stack.formatArn({
    service: 'secretsmanager',
    resource: 'secret',
    resourceName: `${nameOrArn}-??????`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/**
 * A resolved ARN written the way cdk-nag writes it into a finding id: `${X}` of an Fn::Sub
 * becomes `<X>`, Fn::Join is joined, `{"Ref": X}` is `<X>`, `{"Fn::GetAtt": [R, A]}` is `<R.A>`.
 * cdk-nag's own function for this is not part of its public API, so the rule is restated here;
 * test/infra checks that the stacks synthesize with no unacknowledged finding.
 */
export function nagResourceId(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/}/g, '>');
  const fn = node as Record<string, unknown>;
  if (fn['Fn::Join']) {
    const [delimiter, items] = fn['Fn::Join'] as [string, unknown[]];
    return items.map(nagResourceId).join(delimiter);
  }
  if (fn['Fn::Sub']) return nagResourceId(fn['Fn::Sub']);
  if (fn['Fn::GetAtt']) {
    const [resource, attribute] = fn['Fn::GetAtt'] as [unknown, unknown];
    return `<${nagResourceId(resource)}.${nagResourceId(attribute)}>`;
  }
  if (fn['Fn::ImportValue']) return nagResourceId(fn['Fn::ImportValue']);
  if (fn.Ref) return `<${nagResourceId(fn.Ref)}>`;
  return JSON.stringify(node);
}

/**
 * Acknowledges AwsSolutions-IAM5 for exactly these wildcard resources of this policy (the
 * finding id cdk-nag builds from the resolved ARN), so any other wildcard still fails.
 */
export function acknowledgeWildcardResources(
  scope: Construct,
  resources: readonly string[],
  reason: string,
): void {
  const stack = Stack.of(scope);
  for (const resource of resources) {
    Validations.of(scope).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagResourceId(stack.resolve(resource))}]`,
      reason,
    });
  }
}
