/**
 * Instance-start events as the function receives them: EventBridge's EC2 state-change
 * notification, delivered through the SQS queue in a batch of records.
 * https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitoring-instance-state-changes.html
 */
export const stateChange = (instanceId: string, state = 'running') => ({
  version: '0',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  detail: { 'instance-id': instanceId, state },
});

/** One SQS record carrying the start of `instanceId`. */
export const startedRecord = (instanceId: string, messageId = `m-${instanceId}`) => ({
  messageId,
  eventSource: 'aws:sqs',
  body: JSON.stringify(stateChange(instanceId)),
});

/** An SQS batch of start events, one record per instance. */
export const startBatch = (instanceIds: readonly string[]) => ({
  Records: instanceIds.map((id) => startedRecord(id)),
});
