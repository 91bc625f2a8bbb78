/**
 * The Windows probe and push as an SSM Agent older than 3.3.2746.0 runs them: it sets no SSM_ variable
 * and splices each value into the script text at its placeholder, which the scripts' fallback lines
 * take up (shared/documents/windows/probe.ps1, push.ps1; AWS's parameter-troubleshooting.html). The
 * outcome must be a current agent's: the probe's report, the push written, the component recovered.
 * Run with PowerShell 7; skipped, saying why, where it is missing; in CI (CI=true) they fail instead.
 */
import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { sealFor } from '../../lambda/seal.ts';
import { DEFAULT_WINDOWS_SERVICE_NAME } from '../../shared/catalog.ts';
import { parseProbeOutput, parsePushOutput } from '../../shared/host-report.ts';
import { pwshGate } from '../proving-ground/hosts/pwsh.ts';
import { type Ground, REGISTRATION_TOKEN, waitFor } from '../proving-ground/testing.ts';
import type { StepRun } from '../proving-ground/types.ts';
import { startWindowsGround, stateDir, type WindowsStepOptions, windowsStepRun } from './windows-steps.ts';

const gate = pwshGate();
if (gate.skip) console.warn(`Windows old-agent tests that run PowerShell are skipped:${gate.label}`);
const itPwsh = it.skipIf(gate.skip);

const CURRENT = 'i-0a1b2c3d4e5f607a1';
const OLD = 'i-0a1b2c3d4e5f607a2';
/** An agent before 3.0.356.0: it sets no SSM_ variable at all, not even SSM_COMMAND_ID. */
const OLD_AGENT = '2.3.1319.0';

describe('the Windows steps run by an SSM Agent older than 3.3.2746.0', () => {
  let ground: Ground | undefined;
  afterEach(async () => {
    await ground?.close();
    ground = undefined;
  });

  /** Probe (making a key), then push a sealed token, on `host`: the runs and their parsed reports. */
  const recover = async (g: Ground, host: string, options: WindowsStepOptions) => {
    const runs: StepRun[] = [];
    const run = async (role: 'probe' | 'push', env: Record<string, string>) => {
      const stepRun = windowsStepRun(g, role, env, { ...options, host });
      runs.push(stepRun);
      return g.fleet.runStep(stepRun);
    };
    const probed = await run('probe', { SSM_KeyPair: 'create', SSM_RunId: 'run-old-agent' });
    const probe = parseProbeOutput(probed.stdout);
    if (!probe.ok || probe.value.sealingKey?.kind !== 'ready') {
      throw new Error(`${host}: no key\n${probed.stdout}\n${probed.stderr}`);
    }
    const sealed = sealFor(probe.value.sealingKey.spkiDerBase64, REGISTRATION_TOKEN);
    // A wait long enough for the push to restart the running service (after half of it) and see the
    // file read.
    const pushed = await run('push', {
      SSM_RunId: 'run-old-agent',
      SSM_Deliveries: `${host}:windows:${sealed}`,
      SSM_WaitSeconds: '6',
    });
    return { runs, probed, probe: probe.value, pushed, push: parsePushOutput(pushed.stdout, ['windows']) };
  };

  itPwsh(
    `probes, makes its key, delivers and sees the component recover with the values spliced into the text and no SSM_ variable, as a current agent does${gate.label}`,
    async () => {
      // Prepare: two hosts whose Kasm service runs with an expired token; one has a current agent, one an old one.
      const g = await startWindowsGround({ token: 'expired' }, [CURRENT, OLD]);
      ground = g;

      // Act
      const current = await recover(g, CURRENT, {});
      const old = await recover(g, OLD, { splicedBy: OLD_AGENT });
      await waitFor(
        () => g.fleet.state()[OLD]?.windows?.tokenValid === true,
        10_000,
        'the old host recovered',
      );

      // Assess: the old agent's steps had no SSM_ variable and no placeholder left; the values are in the text.
      for (const stepRun of old.runs) {
        expect(Object.keys(stepRun.env).filter((k) => k.startsWith('SSM_'))).toEqual([]);
        expect(stepRun.script).not.toContain('{{');
        expect(stepRun.script).toContain(
          "if ($null -eq $env:SSM_RunId) { $env:SSM_RunId = 'run-old-agent' }",
        );
        expect(stepRun.script).toContain(
          `if ($null -eq $env:SSM_WindowsServiceName) { $env:SSM_WindowsServiceName = '${DEFAULT_WINDOWS_SERVICE_NAME}' }`,
        );
      }
      // Assess: the old host's report is a current host's, line kind by line kind.
      for (const { probed, pushed } of [current, old]) {
        expect(probed.exitCode, probed.stderr).toBe(0);
        expect(pushed.exitCode, pushed.stderr).toBe(0);
        expect(`${probed.stdout}${pushed.stdout}${pushed.stderr}`).not.toContain(REGISTRATION_TOKEN);
      }
      const shape = (r: typeof old) => ({
        canUnseal: r.probe.canUnseal,
        key: r.probe.sealingKey?.kind,
        probed: r.probe.components.map((c) => [c.name, c.token.kind, c.running]),
        pushed:
          r.push.ok &&
          r.push.value.outcomes.map((o) =>
            o.kind === 'failed' ? [o.kind, o.reason] : [o.kind, o.after.token.kind, o.after.restarted],
          ),
      });
      expect(shape(old)).toEqual({
        canUnseal: true,
        key: 'ready',
        probed: [['windows', 'jwt', true]],
        pushed: [['written', 'jwt', true]],
      });
      expect(shape(old)).toEqual(shape(current));
      // Assess: the spliced service name reached Restart-Service, the file was read, the key is gone.
      const restarts = g.fleet.standInCalls(OLD).filter((c) => c.command === 'Restart-Service');
      expect(restarts).toEqual([expect.objectContaining({ args: [DEFAULT_WINDOWS_SERVICE_NAME] })]);
      expect(g.fleet.state()[OLD]?.windows).toEqual({ tokenValid: true, registrationFile: 'absent' });
      expect(readdirSync(stateDir(g, OLD)).filter((n) => n.startsWith('seal-'))).toEqual([]);
    },
  );
});
