/**
 * The product end to end on hosts that run the real Amazon SSM Agent (`hostModel: "agent"`), built from
 * ../shared/vendor/amazon-ssm-agent. That agent predates ENV_VAR interpolation (it reports 3.3.0.0), so
 * every run here also proves the documented fallback for older agents: the scripts take their parameters
 * from the values the agent splices into their text. Beside the scripted e2e scenarios: the 2,500-character
 * cut (long-output.test.ts), an agent stopped mid-command (cancelling.test.ts, through stopped-agent.ts); a
 * step past its timeoutSeconds takes two minutes and has its own file (real-agent-timeout.test.ts). Then
 * what the agent's namespace reaches, and the leak search of the agent's own files. Without the agent's
 * source these tests say so and skip; in CI they fail instead.
 */
import { execFile } from 'node:child_process';
import { appendFileSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { realAgentGate } from '../proving-ground/agent/build.ts';
import { RELAY_PORT } from '../proving-ground/agent/real-agent.ts';
import { truncateOutput } from '../proving-ground/aws/output.ts';
import {
  awsReplies,
  componentOf,
  expectNoLeak,
  ID,
  longToken,
  reconcileOnce,
  sendCommands,
  stateDirEntries,
  TOKEN,
  withGround,
} from './harness.ts';
import { artifactSources, runArtifacts } from './run-artifacts.ts';
import { expectRunPastAgentStoppedMidPush } from './stopped-agent.ts';

const exec = promisify(execFile);

const missing = realAgentGate();
const HYBRID = 'mi-0a1b2c3d4e5f60a02';

interface ListedInvocations {
  readonly CommandInvocations: {
    readonly InstanceId: string;
    readonly CommandPlugins: { readonly Name: string; readonly Output: string }[];
  }[];
}

interface FullInvocation {
  readonly StandardOutputContent: string;
  readonly StandardErrorContent: string;
}

/** This machine's own addresses other than loopback and link-local (none on a machine without a network). */
function machineAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((a) => a !== undefined && !a.internal && !a.address.startsWith('fe80:'))
    .map((a) => a?.address ?? '');
}

/** Connects to each `[host, port]` with node, inside the namespaces `nsenter` enters (none: here); `connected` or the error code. */
async function connectFrom(
  nsenter: readonly string[],
  targets: readonly [string, number][],
): Promise<string[]> {
  const script = `
const net = require('node:net');
Promise.all(JSON.parse(process.argv[1]).map(([host, port]) => new Promise((resolve) => {
  const s = net.connect({ host, port, timeout: 5000 });
  s.on('connect', () => { s.destroy(); resolve('connected'); });
  s.on('timeout', () => { s.destroy(); resolve('timeout'); });
  s.on('error', (e) => resolve(e.code));
}))).then((r) => console.log(JSON.stringify(r)));`;
  const command = [process.execPath, '-e', script, JSON.stringify(targets)];
  const { stdout } =
    nsenter.length > 0
      ? await exec('nsenter', [...nsenter, ...command])
      : await exec(command[0] ?? '', command.slice(1));
  return JSON.parse(stdout) as string[];
}

/** Every process descended from `pid`, with its command name, read from /proc. */
function descendants(pid: number): { pid: number; comm: string }[] {
  const parents = new Map<number, number[]>();
  const comms = new Map<number, string>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid …: the command name may hold spaces and parentheses.
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      comms.set(Number(name), comm);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(name)]);
    } catch {
      // the process ended while we looked
    }
  }
  const found: { pid: number; comm: string }[] = [];
  const walk = (p: number): void => {
    for (const child of parents.get(p) ?? []) {
      found.push({ pid: child, comm: comms.get(child) ?? '' });
      walk(child);
    }
  };
  walk(pid);
  return found;
}

function netNamespace(pid: number | 'self'): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return undefined; // the process ended
  }
}

describe.skipIf(missing !== undefined)(
  `a reconcile run on hosts running the real SSM Agent${missing ? ` (skipped: ${missing})` : ''}`,
  () => {
    it('recovers every locked-out component through probe, key, push and confirm, and names the agent version', async () => {
      await withGround(
        {
          hostModel: 'agent',
          hosts: [
            { id: ID(1), components: { agent: { token: 'expired' }, guac: { token: 'valid' } } },
            {
              id: HYBRID,
              components: { rdp_gateway: { token: 'expired' }, rdp_https_gateway: { token: 'expired' } },
            },
          ],
        },
        async (ground) => {
          // Act
          const run = await reconcileOnce(ground);

          // Assess
          expect(run.report.errors).toEqual([]);
          expect(componentOf(run, ID(1), 'agent')?.status).toBe('recovered');
          expect(componentOf(run, ID(1), 'guac')?.status).toBe('healthy');
          expect(componentOf(run, HYBRID, 'rdp_gateway')?.status).toBe('recovered');
          expect(componentOf(run, HYBRID, 'rdp_https_gateway')?.status).toBe('recovered');
          expect(run.fleet[ID(1)]?.agent).toMatchObject({ tokenValid: true, registrationFile: 'absent' });
          expect(run.fleet[HYBRID]?.rdp_gateway).toMatchObject({
            tokenValid: true,
            registrationFile: 'absent',
          });
          for (const host of run.report.hosts) expect(host).toMatchObject({ agentVersion: '3.3.0.0' });
          expect(stateDirEntries(ground, ID(1))).toEqual([]);
          expect(stateDirEntries(ground, HYBRID)).toEqual([]);
          // The agents really took the commands: fetched, acknowledged and replied through the message service.
          const calls = run.awsCalls;
          expect(calls.AcknowledgeMessage).toBeGreaterThanOrEqual(4);
          expect(calls.SendReply).toBeGreaterThanOrEqual(8);
          expect(
            sendCommands(ground, 'push')
              .flatMap((c) => c.ids)
              .sort(),
          ).toEqual([ID(1), HYBRID].sort());
        },
      );
    });

    it('changes nothing on any host in a dry run', async () => {
      await withGround(
        { hostModel: 'agent', hosts: [{ id: ID(1), components: { agent: { token: 'expired' } } }] },
        async (ground) => {
          // Act
          const run = await reconcileOnce(ground, { dryRun: true });

          // Assess
          expect(componentOf(run, ID(1), 'agent')?.status).toBe('would-push');
          expect(run.fleet[ID(1)]?.agent).toMatchObject({ tokenValid: false, registrationFile: 'absent' });
          expect(sendCommands(ground, 'push')).toEqual([]);
          expect(stateDirEntries(ground, ID(1))).toEqual([]);
        },
      );
    });

    it('keeps the canary intact and fails the component when its registration_token.txt is a symlink', async () => {
      await withGround(
        {
          hostModel: 'agent',
          hosts: [
            {
              id: ID(1),
              components: {
                agent: { token: 'expired', trap: 'symlink' },
                guac: { token: 'expired', trap: 'race' },
              },
            },
          ],
        },
        async (ground) => {
          // Act
          const run = await reconcileOnce(ground);

          // Assess
          const agent = componentOf(run, ID(1), 'agent');
          expect(agent?.status).toBe('failed');
          expect(agent?.reason).toMatch(/not a regular file/);
          expect(lstatSync(ground.fleet.registrationFilePath(ID(1), 'agent')).isSymbolicLink()).toBe(true);
          expect(run.fleet[ID(1)]?.agent?.canary).toBe('intact');
          expect(run.fleet[ID(1)]?.guac?.canary).toBe('intact');
          expect(componentOf(run, ID(1), 'guac')?.status).not.toBe('recovered');
        },
      );
    });

    it('reads a probe report past the 2,500-character cut in full, and decides as on scripted hosts', async () => {
      await withGround(
        {
          hostModel: 'agent',
          hosts: [{ id: ID(1), components: { agent: { token: 'valid' }, guac: { token: 'valid' } } }],
        },
        async (ground) => {
          // Prepare: a token long enough that the probe's report passes 2,500 characters (long-output.test.ts)
          const exp = Math.floor(Date.now() / 1000) + 3600;
          await ground.fleet.writeToken(ID(1), 'guac', longToken(exp));

          // Act
          const run = await reconcileOnce(ground, { dryRun: true });

          // Assess: decided from the whole report, as on scripted hosts
          expect(componentOf(run, ID(1), 'guac')).toMatchObject({
            status: 'healthy',
            tokenExpiresAt: new Date(exp * 1000).toISOString(),
          });
          expect(componentOf(run, ID(1), 'agent')?.status).toBe('healthy');
          // Assess: the agent cut the listed Output at 2,500 characters exactly as the model cuts it, and the
          // product read the report whole, once, through GetCommandInvocation
          const full = awsReplies<FullInvocation>(ground, 'GetCommandInvocation');
          expect(full.map((r) => r.params)).toEqual([
            expect.objectContaining({ InstanceId: ID(1), PluginName: 'probeLinux' }),
          ]);
          const stdout = full[0]?.body.StandardOutputContent ?? '';
          expect(stdout.length).toBeGreaterThan(2500);
          expect(stdout).toMatch(/\nend\n$/);
          const listed = awsReplies<ListedInvocations>(ground, 'ListCommandInvocations')
            .flatMap((r) => r.body.CommandInvocations)
            .flatMap((i) => i.CommandPlugins)
            .find((p) => p.Name === 'probeLinux');
          expect(listed?.Output).toHaveLength(2500);
          expect(listed?.Output).toMatch(/\n---Output truncated---$/);
          expect(listed?.Output).toBe(truncateOutput(stdout, full[0]?.body.StandardErrorContent ?? ''));
        },
      );
    });

    it('finishes without waiting for the cancel of a push whose agent was stopped mid-command, and reports that host failed', async () => {
      await expectRunPastAgentStoppedMidPush('agent', ({ ground, pushCommandId }) => {
        // Assess: the agent had taken the push before it stopped, and never fetched a message again, so
        // the cancel the service queued for it was never heard
        const acknowledged = ground.aws.calls
          .filter((c) => c.operation === 'AcknowledgeMessage')
          .map((c) => (c.params as { MessageId: string }).MessageId);
        expect(acknowledged).toContain(`aws.ssm.${pushCommandId}.${ID(1)}`);
        expect(ground.fleet.realAgent(ID(1))?.running).toBe(false);
        const cancelledAt = ground.aws.calls.find((c) => c.operation === 'CancelCommand')?.at ?? '';
        const fetches = ground.aws.calls
          .filter(
            (c) =>
              c.operation === 'GetMessages' && (c.params as { Destination?: string }).Destination === ID(1),
          )
          .map((c) => c.at);
        expect(fetches.length).toBeGreaterThan(0);
        expect(fetches.filter((at) => at > cancelledAt)).toEqual([]);
      });
    }, 90_000);

    it('runs the agent where only loopback exists: it reaches the proving ground through its relay, and no other address', async () => {
      // Prepare: a server on every address of this machine, reachable from here
      const server = createServer((c) => c.destroy());
      await new Promise<void>((resolve) => server.listen(0, resolve));
      const port = (server.address() as { port: number }).port;
      try {
        await withGround(
          { hostModel: 'agent', hosts: [{ id: ID(1), components: { agent: { token: 'valid' } } }] },
          async (ground) => {
            const pid = ground.fleet.realAgent(ID(1))?.pid ?? 0;
            const user = process.getuid?.() === 0 ? [] : ['--user', '--preserve-credentials'];
            const enter = ['--target', String(pid), ...user, '--mount', '--net', '--'];
            const machine = machineAddresses();
            const groundPort = Number(new URL(ground.info.awsEndpoint).port);

            // Act
            const links = (await exec('nsenter', [...enter, 'ip', '-o', 'link'])).stdout;
            const addresses = (await exec('nsenter', [...enter, 'ip', '-o', 'addr'])).stdout;
            const fromHere = await connectFrom(
              [],
              machine.map((a) => [a, port]),
            );
            const fromAgent = await connectFrom(enter, [
              ...machine.map((a): [string, number] => [a, port]),
              ['169.254.169.254', 80],
              ['127.0.0.1', port],
              ['127.0.0.1', groundPort],
              ['127.0.0.1', RELAY_PORT],
            ]);

            // Assess: one interface, loopback, and its loopback address only
            const names = (text: string) =>
              text
                .split('\n')
                .filter(Boolean)
                .map((l) => l.split(/:?\s+/)[1]);
            expect(names(links)).toEqual(['lo']);
            expect([...new Set(names(addresses))]).toEqual(['lo']);
            expect(addresses).toContain('inet 127.0.0.1/8');
            // Assess: this machine's addresses answer from here but are unreachable from the agent, as is the
            // instance metadata address; this machine's loopback (the proving ground's own port included) is
            // not the agent's; only the relay to the proving ground's socket answers
            expect(fromHere).toEqual(machine.map(() => 'connected'));
            expect(fromAgent).toEqual([
              ...machine.map(() => 'ENETUNREACH'),
              'ENETUNREACH',
              'ECONNREFUSED',
              'ECONNREFUSED',
              'connected',
            ]);
            // Assess: every process of the agent (core, worker) is in that network namespace
            const tree = descendants(pid);
            expect(tree.map((p) => p.comm)).toEqual(
              expect.arrayContaining(['amazon-ssm-agen', 'ssm-agent-worke']),
            );
            const isolated = netNamespace(pid);
            expect(isolated).not.toBe(netNamespace('self'));
            for (const p of tree) expect([isolated, undefined]).toContain(netNamespace(p.pid));
          },
        );
      } finally {
        server.close();
      }
    });

    it("searches the agent's own log and state for the token after a run, and names a token found there", async () => {
      await withGround(
        { hostModel: 'agent', hosts: [{ id: ID(1), components: { agent: { token: 'expired' } } }] },
        async (ground) => {
          // Act: a run (reconcileOnce searches everything it left, and finds no token)
          const run = await reconcileOnce(ground);

          // Assess: that search read the agent's log and its state: its copies of the probe and the push
          // (the push with its sealed deliveries spliced in) and what they printed
          expect(componentOf(run, ID(1), 'agent')?.status).toBe('recovered');
          const where = artifactSources(runArtifacts(ground, run)).map((s) => s.where);
          const file = `host ${ID(1)} file `;
          expect(where).toContain(`${file}var/log/amazon/ssm/amazon-ssm-agent.log`);
          const orchestration = `${file}var/lib/amazon/ssm/${ID(1)}/document/orchestration/`;
          const state = where
            .filter((w) => w.startsWith(orchestration))
            .map((w) => w.slice(orchestration.length));
          for (const step of ['probeLinux', 'pushLinux']) {
            expect(state).toContainEqual(
              expect.stringMatching(new RegExp(`^[0-9a-f-]{36}/${step}/_script\\.sh$`)),
            );
            expect(state).toContainEqual(
              expect.stringMatching(new RegExp(`^[0-9a-f-]{36}/awsrunShellScript/${step}/stdout$`)),
            );
          }

          // Act: the token written where the agent keeps its log and its state
          const root = ground.fleet.hostRoot(ID(1));
          appendFileSync(join(root, 'var/log/amazon/ssm/amazon-ssm-agent.log'), `debug ${TOKEN}\n`);
          const script = state.find((w) => w.endsWith('/pushLinux/_script.sh')) ?? '';
          const stateFile = join(root, `var/lib/amazon/ssm/${ID(1)}/document/orchestration`, script);
          appendFileSync(stateFile, `# ${Buffer.from(TOKEN).toString('base64')}\n`);
          let message = '';
          try {
            expectNoLeak(ground, run);
          } catch (error) {
            message = (error as Error).message;
          }

          // Assess: the search names both, by place and form
          expect(message).toMatch(
            new RegExp(`${file}var/log/amazon/ssm/amazon-ssm-agent\\.log: raw at byte \\d+`),
          );
          expect(message).toMatch(
            new RegExp(`${orchestration}${script.replaceAll('.', '\\.')}: base64 at byte \\d+`),
          );
          expect(message.includes(TOKEN)).toBe(false);
        },
        // The tokens planted above would fail the check withGround makes after the body: the leak
        // search is asserted here instead.
        { plantsTokenFiles: true },
      );
    });
  },
);
