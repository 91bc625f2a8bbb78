/**
 * End to end on the proving ground with mixed Linux and Windows fleets: the real handler, the fake AWS
 * wire server, and the Windows steps run for real with PowerShell 7 on simulated Windows hosts (service
 * control and ACLs through recorded stand-ins). Skipped, saying why, where pwsh is missing; in CI
 * (CI=true) they run and fail instead.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pwshGate } from '../proving-ground/hosts/pwsh.ts';
import type { ProvingGround } from '../proving-ground/proving-ground.ts';
import { componentOf, expectNoLeak, reconcileOnce, sendCommands, TOKEN, withGround } from './harness.ts';

const gate = pwshGate();
if (gate.skip) console.warn(`Windows end-to-end tests are skipped:${gate.label}`);
const itPwsh = it.skipIf(gate.skip);

const W = {
  expired: 'i-0a1b2c3d4e5f6a001',
  inGrace: 'i-0a1b2c3d4e5f6a002',
  valid: 'i-0a1b2c3d4e5f6a003',
  missing: 'i-0a1b2c3d4e5f6a004',
  offline: 'i-0a1b2c3d4e5f6a005',
  readOnly: 'i-0a1b2c3d4e5f6a006',
  stopped: 'i-0a1b2c3d4e5f6a007',
  garbage: 'i-0a1b2c3d4e5f6a008',
  oldAgent: 'i-0a1b2c3d4e5f6a009',
} as const;
const L = { expired: 'i-0a1b2c3d4e5f6b001', valid: 'mi-0a1b2c3d4e5f6b002' } as const;

const windows = (id: string, component: Record<string, unknown>, host: Record<string, unknown> = {}) => ({
  id,
  platform: 'Windows',
  components: { windows: component },
  ...host,
});

const MIXED_FLEET = {
  kasm: { healthy: true, tokenLifetimeSeconds: 120, gracePeriodSeconds: 60, heartbeatSeconds: 1 },
  hosts: [
    windows(W.expired, { token: 'expired' }),
    // Stopped, so that it cannot refresh its own token before the probe looks.
    windows(W.inGrace, { token: 'in-grace', running: false }),
    windows(W.valid, { token: 'valid' }),
    windows(W.missing, { token: 'missing' }),
    windows(W.offline, { token: 'expired' }, { online: false }),
    windows(W.readOnly, { token: 'expired', readOnly: true }),
    windows(W.stopped, { token: 'expired', running: false }),
    windows(W.garbage, { token: 'garbage' }),
    { id: L.expired, components: { agent: { token: 'expired' } } },
    { id: L.valid, components: { guac: { token: 'valid' } } },
  ],
};

const stateDir = (g: ProvingGround, id: string) =>
  join(g.fleet.hostRoot(id), 'C/ProgramData/kasm-token-reconciler');
/** The state directory's entries but its lock file, which stays (taking a lock never removes it). */
const stateEntries = (g: ProvingGround, id: string) =>
  readdirSync(stateDir(g, id)).filter((n) => n !== 'host.lock');

describe('a mixed Linux and Windows fleet on the proving ground', () => {
  itPwsh(
    `recovers a Windows host past grace with one service restart and gives every other Windows host its status${gate.label}`,
    () =>
      withGround(MIXED_FLEET, async (g) => {
        // Act (reconcileOnce also checks that no form of the token is in the report, the AWS calls,
        // the step environments and outputs, or the logs)
        const run = await reconcileOnce(g, {});
        const { report, fleet } = run;

        // Assess: statuses
        expect(report.ok).toBe(true);
        expect(componentOf(run, W.expired, 'windows')).toMatchObject({
          status: 'recovered',
          restarted: true,
        });
        expect(componentOf(run, W.inGrace, 'windows')).toMatchObject({ status: 'in-grace' });
        expect(componentOf(run, W.valid, 'windows')).toMatchObject({ status: 'healthy' });
        expect(componentOf(run, W.missing, 'windows')).toMatchObject({ status: 'needs-redeploy' });
        expect(componentOf(run, W.offline, 'windows')).toMatchObject({ status: 'unreachable' });
        expect(componentOf(run, W.readOnly, 'windows')).toMatchObject({
          status: 'failed',
          reason: expect.stringContaining('not writable'),
        });
        expect(componentOf(run, W.stopped, 'windows')).toMatchObject({
          status: 'pending',
          reason: expect.stringContaining('not running'),
        });
        expect(componentOf(run, W.stopped, 'windows')).not.toHaveProperty('restarted');
        expect(componentOf(run, W.garbage, 'windows')).toMatchObject({ status: 'unreadable' });
        expect(componentOf(run, L.expired, 'agent')).toMatchObject({ status: 'recovered' });
        expect(componentOf(run, L.valid, 'guac')).toMatchObject({ status: 'healthy' });
        expect(report.hosts.find((h) => h.instanceId === W.expired)?.platform).toBe('Windows');

        // Assess: the recovered host consumed the file after exactly one restart
        expect(fleet[W.expired]?.windows).toEqual({ tokenValid: true, registrationFile: 'absent' });
        const restarts = g.fleet.standInCalls(W.expired).filter((c) => c.command === 'Restart-Service');
        expect(restarts).toEqual([expect.objectContaining({ args: ['Kasm'], outcome: 'restarted' })]);
        expect(g.fleet.readLog(W.expired, 'windows')).toContain(
          'Loaded registration token from C:\\Program Files\\Kasm\\registration_token.txt',
        );

        // Assess: the stopped service was not restarted; its file waits, readable by SYSTEM and Administrators only
        expect(g.fleet.standInCalls(W.stopped).some((c) => c.command === 'Restart-Service')).toBe(false);
        const waiting = g.fleet.registrationFilePath(W.stopped, 'windows');
        expect(fleet[W.stopped]?.windows).toEqual({
          tokenValid: false,
          registrationFile: 'present',
          registrationFileMode: '0600',
          registrationFileAcl: 'D:P(A;;FA;;;SY)(A;;FA;;;BA)',
        });
        expect(g.fleet.windowsAcl(W.stopped, waiting)).toMatchObject({
          hostPath: 'C:\\Program Files\\Kasm\\registration_token.txt',
          inheritanceRemoved: true,
          readers: ['SYSTEM', 'Administrators'],
          private: true,
        });
        expect(readFileSync(waiting, 'utf8')).toBe(TOKEN);
        // What the script asked icacls for, on the temp file it then renamed into place.
        expect(g.fleet.standInCalls(W.stopped)).toContainEqual(
          expect.objectContaining({
            command: 'icacls',
            args: [
              expect.stringMatching(/\/C\/Program Files\/Kasm\/\.registration_token\.txt\.[\w.]+\.tmp$/),
              '/inheritance:r',
              '/grant:r',
              '*S-1-5-18:F',
              '/grant:r',
              '*S-1-5-32-544:F',
            ],
            outcome: 'ok',
          }),
        );

        // Assess: nothing was written where it could not be, and no sealing key outlives the run
        expect(fleet[W.readOnly]?.windows?.registrationFile).toBe('absent');
        for (const id of [W.expired, W.readOnly]) expect(stateEntries(g, id)).toEqual([]);
        // The stopped agent's file still waits: only the marker of its first delivery is kept.
        expect(stateEntries(g, W.stopped)).toEqual(['delivered-windows.txt']);
        for (const id of [W.valid, W.missing, W.inGrace, W.garbage]) {
          expect(existsSync(stateDir(g, id))).toBe(false);
        }

        // Assess: every command got the Windows settings; the stand-ins never saw the token either
        // (two rounds: the locked-out hosts made their keys while probed, so there was no prepare round)
        const commands = [...sendCommands(g, 'probe'), ...sendCommands(g, 'push')];
        expect(commands).toHaveLength(2);
        for (const { params } of commands) {
          expect(params).toMatchObject({
            WindowsInstallDir: ['C:\\Program Files\\Kasm'],
            WindowsServiceName: ['Kasm'],
          });
        }
        const standIns = JSON.stringify(
          [W.expired, W.stopped, W.readOnly].map((id) => g.fleet.standInCalls(id)),
        );
        expect(standIns.includes(TOKEN)).toBe(false);
        expectNoLeak(g, run);
      }),
  );

  itPwsh(
    `recovers a Windows host whose SSM Agent is older than 3.3.2746.0 through the spliced parameters, and the report names its version${gate.label}`,
    () =>
      withGround(
        {
          ...MIXED_FLEET,
          hosts: [
            windows(W.oldAgent, { token: 'expired' }, { agentVersion: '3.2.582.0' }),
            windows(W.expired, { token: 'expired' }),
          ],
        },
        async (g) => {
          // Act
          const run = await reconcileOnce(g);

          // Assess: both recovered alike, each after one restart.
          for (const id of [W.oldAgent, W.expired]) {
            expect(componentOf(run, id, 'windows')).toMatchObject({ status: 'recovered', restarted: true });
            expect(run.fleet[id]?.windows).toEqual({ tokenValid: true, registrationFile: 'absent' });
          }
          const report = (id: string) => run.report.hosts.find((h) => h.instanceId === id);
          expect(report(W.oldAgent)).toMatchObject({ agentVersion: '3.2.582.0', platform: 'Windows' });
          expect(report(W.expired)).not.toHaveProperty('agentVersion');
          expect(sendCommands(g, 'push').flatMap((s) => s.ids)).toContain(W.oldAgent);

          // Assess: the old agent's steps had the values in their text and no SSM_ variable for them.
          const oldSteps = g.steps.filter((s) => s.run.instanceId === W.oldAgent);
          expect(oldSteps.length).toBeGreaterThanOrEqual(2);
          for (const { run: step } of oldSteps) {
            expect(Object.keys(step.env).filter((k) => k.startsWith('SSM_'))).toEqual(['SSM_COMMAND_ID']);
            expect(step.script).not.toContain('{{');
          }
        },
      ),
  );

  itPwsh(`leaves no trace on Windows hosts in a dry run${gate.label}`, () =>
    withGround(
      {
        ...MIXED_FLEET,
        hosts: [
          windows(W.expired, { token: 'expired' }),
          { id: L.expired, components: { agent: { token: 'expired' } } },
        ],
      },
      async (g) => {
        // Act
        const run = await reconcileOnce(g, { dryRun: true });

        // Assess
        expect(componentOf(run, W.expired, 'windows')).toMatchObject({ status: 'would-push' });
        expect(run.fleet[W.expired]?.windows).toEqual({ tokenValid: false, registrationFile: 'absent' });
        expect(existsSync(stateDir(g, W.expired))).toBe(false);
        expect(g.fleet.standInCalls(W.expired).map((c) => c.command)).toEqual(['Get-Service']);
      },
    ),
  );

  itPwsh(`delivers again and restarts once when a file already waits on a Windows agent${gate.label}`, () =>
    withGround({ ...MIXED_FLEET, hosts: [windows(W.expired, { token: 'expired' })] }, async (g) => {
      // Prepare: an earlier run left the file, but the service restart never happened.
      await g.fleet.placeRegistrationFile(W.expired, 'windows', `${TOKEN}`);

      // Act: a stuck limit far above this test's own duration, so a slow machine cannot call the file stuck.
      const run = await reconcileOnce(g, {}, { env: { STUCK_AFTER_SECONDS: '600' } });

      // Assess
      expect(componentOf(run, W.expired, 'windows')).toMatchObject({ status: 'recovered', restarted: true });
      expect(run.fleet[W.expired]?.windows).toMatchObject({ tokenValid: true, registrationFile: 'absent' });
      const restarts = g.fleet.standInCalls(W.expired).filter((c) => c.command === 'Restart-Service');
      expect(restarts).toHaveLength(1);
    }),
  );
  itPwsh(
    `reports a Windows agent stuck on the run after a delivery it did not read, without delivering again${gate.label}`,
    () =>
      withGround(
        { ...MIXED_FLEET, hosts: [windows(W.expired, { token: 'expired', running: false })] },
        async (g) => {
          // Act: the first run delivers to a stopped service, which never reads the file.
          const first = await reconcileOnce(g);
          const second = await reconcileOnce(g);

          // Assess
          expect(componentOf(first, W.expired, 'windows')?.status).toBe('pending');
          expect(componentOf(second, W.expired, 'windows')).toMatchObject({
            status: 'stuck',
            reason: expect.stringMatching(/delivered \d+s ago and the service was restarted once.*stopped/),
          });
          expect(sendCommands(g, 'push')).toHaveLength(1);
        },
      ),
  );
});
