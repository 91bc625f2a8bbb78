/**
 * CloudWatch Logs Insights queries over the function's log lines (Powertools JSON: `message`
 * plus the fields lambda/handler.ts and lambda/report-log.ts log). Saved per environment as
 * query definitions, and the first one is also a table on the dashboard.
 */
import { type ILogGroup, QueryDefinition, QueryString } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { savedQueryName } from '../shared/names.ts';

export interface LogQuery {
  /** Shown in the Logs Insights "Saved queries" list, under the environment's folder. */
  readonly title: string;
  readonly query: QueryString;
}

export const LOG_QUERIES = {
  needsAttention: {
    title: 'Components needing attention',
    query: new QueryString({
      fields: ['@timestamp', 'instanceId', 'component', 'status', 'reason', 'action'],
      filterStatements: ['message = "needs attention"'],
      sort: '@timestamp desc',
      limit: 200,
    }),
  },
  runSummaries: {
    title: 'Run summaries',
    query: new QueryString({
      fields: [
        '@timestamp',
        'report.summary',
        'report.trigger',
        'report.dryRun',
        'report.ok',
        'report.durationMs',
        'runId',
      ],
      filterStatements: ['message = "run report"'],
      sort: '@timestamp desc',
      limit: 100,
    }),
  },
  runErrors: {
    title: 'Failed runs and errors',
    query: new QueryString({
      fields: ['@timestamp', 'runId', 'report.summary', 'report.errors.0', '@message'],
      // Run-level errors in a report, a crash (the runtime's "Invoke Error"), a timeout, or an ERROR line.
      filterStatements: [
        '(message = "run report" and ispresent(report.errors.0)) or @message like /Invoke Error|Task timed out|"level":"ERROR"/',
      ],
      sort: '@timestamp desc',
      limit: 100,
    }),
  },
} as const satisfies Record<string, LogQuery>;

export interface SavedLogQueriesProps {
  readonly environmentName: string;
  readonly logGroup: ILogGroup;
}

export class SavedLogQueries extends Construct {
  readonly definitions: QueryDefinition[];

  constructor(scope: Construct, id: string, props: SavedLogQueriesProps) {
    super(scope, id);
    this.definitions = Object.entries(LOG_QUERIES).map(
      ([key, query]) =>
        new QueryDefinition(this, key, {
          // A "/" puts the queries in one folder per environment in the console.
          queryDefinitionName: savedQueryName(props.environmentName, query.title),
          queryString: query.query,
          logGroups: [props.logGroup],
        }),
    );
  }
}
