/**
 * The periodic full reconcile: an EventBridge Scheduler schedule invoking the function
 * (asynchronously) with a scheduled event, so the run knows the schedule started it.
 */
import { Aws } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import {
  ContextAttribute,
  Schedule,
  ScheduleExpression,
  ScheduleTargetInput,
} from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { SERVICE_NAME } from '../shared/names.ts';
import { acknowledgeWildcardResources } from './reconciler-policy.ts';

/**
 * What the schedule sends: a "Scheduled Event" as the contract accepts it, not the console's
 * `{}`. Only a scheduled run leaves the fleet to another run still at work (lambda/reconcile.ts);
 * an operator's `{}` always runs. Scheduler fills in the `<aws.scheduler.*>` keywords at each
 * invocation (https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html).
 */
export const SCHEDULED_RUN_INPUT = {
  'detail-type': 'Scheduled Event',
  source: 'aws.scheduler',
  time: ContextAttribute.scheduledTime,
  resources: [ContextAttribute.scheduleArn],
  detail: {},
} as const;

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
      input: ScheduleTargetInput.fromObject(SCHEDULED_RUN_INPUT),
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
