/**
 * The numbers in docs/ that drift easily, against what the code and the synthesized stack say:
 * the batching window, queue and function settings, and how many metrics and alarms there are.
 * (The settings tables, the metrics table and the alarm runbook are generated: settings-docs.test.ts.)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../infra/reconciler-function.ts';
import { ALARM_IDS } from '../../shared/names.ts';
import { RUN_METRICS } from '../../shared/run-metrics.ts';
import { synthStacks } from './synth-stacks.ts';

const deploying = readFileSync(join(PROJECT_ROOT, 'docs', 'deploying.md'), 'utf8');
const operating = readFileSync(join(PROJECT_ROOT, 'docs', 'operating.md'), 'utf8');
const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');

let template: Template;
beforeAll(() => {
  const synthesized = synthStacks({
    docs: { registrationSecret: { nameOrArn: 'kasm/docs/registration-token' } },
  });
  template = synthesized.templates.docs as Template;
});

function only(type: string): Record<string, unknown> {
  const resources = Object.values(template.findResources(type));
  expect(resources).toHaveLength(1);
  return (resources[0] as { Properties: Record<string, unknown> }).Properties;
}

describe('the numbers docs/deploying.md gives', () => {
  it('name the batching window, batch size and maximum concurrency the event source has', () => {
    // Act
    const source = only('AWS::Lambda::EventSourceMapping');

    // Assess
    const window = source.MaximumBatchingWindowInSeconds as number;
    const batch = (source.BatchSize as number).toLocaleString('en-US');
    const concurrency = (source.ScalingConfig as { MaximumConcurrency: number }).MaximumConcurrency;
    expect(deploying).toContain(`up to ${batch} records gathered for ${window} s`);
    expect(deploying).toContain(`**A ${window} s batching window**`);
    expect(deploying).toContain(`plus the ${window} s batching window`);
    expect(deploying).toContain(`**Maximum concurrency ${concurrency}**`);
  });

  it("name the start queue's visibility timeout and receive count, and the function's memory and timeout", () => {
    // Act
    const queues = Object.values(template.findResources('AWS::SQS::Queue')).map(
      (q) => (q as { Properties: Record<string, unknown> }).Properties,
    );
    const startQueue = queues.find((q) => q.RedrivePolicy !== undefined) ?? {};
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))
      .map((f) => (f as { Properties: Record<string, unknown> }).Properties)
      .find((f) => f.FunctionName === 'KasmTokenReconciler-docs') as { MemorySize: number; Timeout: number };

    // Assess
    const visibility = startQueue.VisibilityTimeout as number;
    expect(deploying).toContain(
      `**Queue visibility timeout ${Math.floor(visibility / 60)} minutes ${visibility % 60} seconds**`,
    );
    const receives = (startQueue.RedrivePolicy as { maxReceiveCount: number }).maxReceiveCount;
    expect(deploying).toContain(`**maxReceiveCount ${receives}**`);
    expect(deploying).toContain(`received ${receives} times without being handled`);
    expect(deploying).toContain(`arm64, ${fn.MemorySize} MB`);
    expect(deploying).toContain(`timeout ${fn.Timeout / 60} minutes`);
    expect(deploying).toContain(`**${fn.Timeout / 60}-minute timeout**`);
  });

  it('count the alarms every stack has', () => {
    // Act
    const alarms = Object.keys(template.findResources('AWS::CloudWatch::Alarm'));

    // Assess
    expect(alarms).toHaveLength(ALARM_IDS.length);
    expect(deploying).toContain(`${ALARM_IDS.length} alarms in every stack`);
  });
});

describe('the numbers docs/operating.md gives', () => {
  it('count the metrics and alarms the cost section charges for', () => {
    // Assess: every metric but RejectedEvents is published on every run
    const everyRun = Object.keys(RUN_METRICS).length - 1;
    expect(operating).toContain(`${everyRun} custom metrics from every run`);
    expect(operating).toContain(`${ALARM_IDS.length} alarms ($0.10 each)`);
  });

  it('describe every metric the function publishes, and no other', () => {
    // Act
    const section = operating.slice(
      operating.indexOf('## Metrics and logs'),
      operating.indexOf('## Behaviour'),
    );
    const documented = [...section.matchAll(/^\| `(\w+)` +\|/gm)].map((m) => m[1]);

    // Assess
    expect(documented).toStrictEqual(Object.keys(RUN_METRICS));
  });
});

describe('the Node.js versions the docs ask for', () => {
  it("are package.json's engines range, word for word, in the README, deploying.md and testing.md", () => {
    // Prepare
    const { engines } = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
      engines: { node: string };
    };

    // Assess
    const testing = readFileSync(join(PROJECT_ROOT, 'docs', 'testing.md'), 'utf8');
    for (const doc of [readme, deploying, testing]) {
      expect(doc).toContain(`Node.js \`${engines.node}\``);
      expect(doc).not.toMatch(/Node\.js \d+ or later/);
    }
  });
});

describe('what deploying.md says each host needs', () => {
  it("names the Windows Server and .NET Framework versions the Windows steps' header gives", () => {
    // Prepare
    const header = readFileSync(join(PROJECT_ROOT, 'shared/documents/windows/common.ps1'), 'utf8');
    const [, server, framework] =
      /Windows PowerShell 5\.1 \(Server (\d+) and later, \.NET Framework ([\d.]+)\+\)/.exec(header) ?? [];

    // Assess
    expect([server, framework]).toStrictEqual(['2016', '4.6.2']);
    expect(deploying).toContain(`Windows Server ${server} or later`);
    expect(deploying).toContain(`.NET Framework ${framework} or later`);
  });

  it('names the bash version the Linux steps are held to, and every tool its check loop looks for', () => {
    // Prepare
    const linux = ['common.sh', 'probe.sh', 'push.sh']
      .map((f) => readFileSync(join(PROJECT_ROOT, 'shared/documents/linux', f), 'utf8'))
      .join('\n');
    const loop = /for c in ([^;]+); do command -v/.exec(deploying.replace(/\\\n\s*/g, ''))?.[1] ?? '';

    // Assess: every tool the loop checks is one the scripts call
    expect(linux).toContain('Bash 4.2 (Amazon Linux 2, RHEL 7) runs these');
    expect(deploying).toContain('`bash` 4.2 or later');
    const tools = loop.split(/\s+/).filter(Boolean);
    expect(tools.length).toBeGreaterThan(20);
    expect(tools.filter((tool) => !new RegExp(`(^|[\\s|(!;&])${tool}\\b`, 'm').test(linux))).toStrictEqual(
      [],
    );
  });
});

describe('the README', () => {
  it('stays short: what it is, the two commands, and where to go next', () => {
    expect(readme.split('\n').length).toBeLessThan(60);
    expect(readme).toContain('npm ci && npm run demo');
    expect(readme).toContain('npm test');
    for (const doc of ['deploying', 'operating', 'security', 'testing'])
      expect(readme).toContain(`docs/${doc}.md`);
  });
});
