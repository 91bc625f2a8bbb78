/**
 * The periodic full reconcile: an EventBridge Scheduler schedule invoking the function
 * (asynchronously) with the console's "reconcile everything" payload `{}`.
 */
import { Aws } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Schedule, ScheduleExpression, ScheduleTargetInput } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { SERVICE_NAME } from '../shared/names.ts';
import { acknowledgeWildcardResources } from './reconciler-policy.ts';

export interface ScheduleTriggerProps {
  readonly function: IFunction;
  /** EventBridge Scheduler expression, e.g. rate(5 minutes). */
  readonly expression: string;
  /** Where Scheduler puts an invocation it could not deliver. */
  readonly deadLetterQueue: IQueue;
  readonly description: string;
}

export class ScheduleTrigger extends Construct {
  readonly schedule: Schedule;
  readonly role: Role;

  constructor(scope: Construct, id: string, props: ScheduleTriggerProps) {
    super(scope, id);
    // Its own role (not the stack-wide one LambdaInvoke would share), trusted only by
    // EventBridge Scheduler acting for this account.
    this.role = new Role(this, 'InvokeRole', {
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
      description: `EventBridge Scheduler: invokes the ${SERVICE_NAME} function.`,
    });
    const target = new LambdaInvoke(props.function, {
      role: this.role,
      input: ScheduleTargetInput.fromObject({}),
      deadLetterQueue: props.deadLetterQueue,
    });
    this.schedule = new Schedule(this, 'Schedule', {
      schedule: ScheduleExpression.expression(props.expression),
      target,
      description: props.description,
    });
    // LambdaInvoke grants lambda:InvokeFunction through Function.grantInvoke, which always
    // adds "<function ARN>:*" (its versions and aliases) beside the function ARN.
    acknowledgeWildcardResources(
      this,
      [`${props.function.functionArn}:*`],
      'The schedule role may invoke only this one function; CDK grantInvoke adds the ":*" form to cover its versions and aliases.',
    );
  }
}
