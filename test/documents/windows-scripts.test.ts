/**
 * The Windows steps of the probe and push documents: how the documents carry them, a static check that
 * they parse and use nothing newer than Windows PowerShell 5.1, and the sealed delivery run for real
 * with PowerShell 7 on a simulated Windows host (the SPKI the probe prints, the push opening what
 * lambda/seal.ts sealed). Tests that need pwsh are skipped, saying why, where it is missing; in CI
 * (CI=true) they run and fail instead.
 */
import { execFile } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { sealFor } from '../../lambda/seal.ts';
import {
  DEFAULT_WINDOWS_INSTALL_DIR,
  DEFAULT_WINDOWS_SERVICE_NAME,
  REGISTRATION_FILE_NAME,
  WINDOWS_COMPONENTS,
} from '../../shared/catalog.ts';
import {
  PARAMETER_PATTERNS,
  probeDocument,
  pushDocument,
  windowsScript,
} from '../../shared/documents/ssm-documents.ts';
import { parseProbeOutput, parsePushOutput } from '../../shared/host-report.ts';
import { findPwsh, pwshGate } from '../proving-ground/hosts/pwsh.ts';
import { type Ground, REGISTRATION_TOKEN } from '../proving-ground/testing.ts';
import type { StepResult } from '../proving-ground/types.ts';
import {
  WINDOWS_HOST as HOST,
  installDir,
  probeKey,
  RUN_ID,
  startWindowsGround,
  stateDir,
  windowsStep,
} from './windows-steps.ts';

const run = promisify(execFile);
const gate = pwshGate();
if (gate.skip) console.warn(`Windows script tests that run PowerShell are skipped:${gate.label}`);
const itPwsh = it.skipIf(gate.skip);
/** A local user's SID, not an administrator. */
const USER_SID = 'S-1-5-21-1004336348-1177238915-682003330-1001';
/** The state directory's DACL: inheritance off, SYSTEM and Administrators full control, nobody else. */
const PRIVATE_DIR_SDDL = 'D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)';

describe('the Windows steps of the SSM documents', () => {
  it('are PowerShell steps for Windows only, carrying exactly the generated script', () => {
    // Act
    const steps = [probeDocument(), pushDocument()].map((d) =>
      d.mainSteps.find((s) => s.name.endsWith('Windows')),
    );

    // Assess
    expect(steps.map((s) => s?.action)).toEqual(['aws:runPowerShellScript', 'aws:runPowerShellScript']);
    expect(steps.map((s) => s?.precondition)).toEqual([
      { StringEquals: ['platformType', 'Windows'] },
      { StringEquals: ['platformType', 'Windows'] },
    ]);
    expect(steps[0]?.inputs.runCommand.join('\n')).toBe(windowsScript('probe'));
    expect(steps[1]?.inputs.runCommand.join('\n')).toBe(windowsScript('push'));
  });

  it('splice the catalog and the shared functions in, leaving no placeholder and no non-ASCII character', () => {
    for (const role of ['probe', 'push'] as const) {
      // Act
      const text = windowsScript(role);

      // Assess
      expect(text).not.toContain('@@');
      expect(text).toMatch(/^[\t\n\r\x20-\x7e]*$/);
      expect(text).toContain(`$DefaultInstallDir = '${DEFAULT_WINDOWS_INSTALL_DIR}'`);
      expect(text).toContain(`$DefaultServiceName = '${DEFAULT_WINDOWS_SERVICE_NAME}'`);
      expect(text).toContain(`$RegFile = '${REGISTRATION_FILE_NAME}'`);
      for (const c of WINDOWS_COMPONENTS) {
        expect(text).toContain(
          `@{ Name = '${c.name}'; ConfigFile = '${c.configFile}'; Section = '${c.tokenPath[0]}'; Key = '${c.tokenPath[1]}' }`,
        );
      }
      expect(text).toContain('function Get-KtrToken');
      // Parameters reach the script as environment variables, or (agents before 3.3.2746.0) spliced into
      // single-quoted fallback lines only (test/documents/splice.test.ts).
      for (const line of text.split('\n').filter((l) => l.includes('{{'))) {
        expect(line).toMatch(/^if \(\$null -eq \$env:SSM_(\w+)\) \{ \$env:SSM_\1 = '\{\{\1\}\}' \}$/);
      }
    }
  });

  it('declare WindowsInstallDir and WindowsServiceName in both documents as ENV_VAR strings with a strict pattern', () => {
    for (const doc of [probeDocument(), pushDocument()]) {
      // Assess
      expect(doc.parameters.WindowsInstallDir).toMatchObject({
        default: DEFAULT_WINDOWS_INSTALL_DIR,
        interpolationType: 'ENV_VAR',
        allowedPattern: PARAMETER_PATTERNS.windowsInstallDir,
      });
      expect(doc.parameters.WindowsServiceName).toMatchObject({
        default: DEFAULT_WINDOWS_SERVICE_NAME,
        interpolationType: 'ENV_VAR',
        allowedPattern: PARAMETER_PATTERNS.windowsServiceName,
      });
    }
  });

  it('accept plain install folders and service names and refuse anything a shell or PowerShell could act on', () => {
    // Prepare
    const dir = new RegExp(PARAMETER_PATTERNS.windowsInstallDir);
    const service = new RegExp(PARAMETER_PATTERNS.windowsServiceName);

    // Act / Assess
    for (const ok of [
      'C:\\Program Files\\Kasm',
      'D:\\Kasm\\',
      'C:\\Program Files (x86)\\Kasm Workspaces',
      'E:\\',
    ]) {
      expect(dir.test(ok), ok).toBe(true);
    }
    for (const bad of [
      'Program Files\\Kasm',
      'C:/Program Files/Kasm',
      'C:\\Kasm"; Remove-Item C:\\',
      'C:\\$(Get-Process)',
      "C:\\Kasm'",
      'C:\\a\\\\b',
      '\\\\server\\share',
      `C:\\${'a'.repeat(65)}`,
      'C:\\Kasm\nC:\\x',
    ]) {
      expect(dir.test(bad), bad).toBe(false);
    }
    for (const ok of ['Kasm', 'kasm_windows_service', 'Kasm Desktop Service'])
      expect(service.test(ok), ok).toBe(true);
    for (const bad of ['', ' Kasm', 'Kasm;Stop', 'Kasm$x', 'Kasm`n', "Kasm'", 'K*']) {
      expect(service.test(bad), bad).toBe(false);
    }
  });
});

describe('test/pwsh-check.ps1, the PowerShell 5.1 static check', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  const check = async (files: Record<string, string>) => {
    dir = mkdtempSync(join(tmpdir(), 'ktr-pwsh-check-'));
    const paths = Object.entries(files).map(([name, text]) => {
      const path = join(dir!, name);
      writeFileSync(path, text);
      return path;
    });
    try {
      const { stdout } = await run(findPwsh() ?? 'pwsh', [
        '-NoProfile',
        '-NonInteractive',
        '-File',
        'test/pwsh-check.ps1',
        ...paths,
      ]);
      return { code: 0, stdout };
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? -1, stdout: `${e.stdout ?? ''}${e.stderr ?? ''}` };
    }
  };

  itPwsh(
    `finds that the probe and push steps parse and need nothing newer than 5.1${gate.label}`,
    async () => {
      // Act
      const result = await check({ 'probe.ps1': windowsScript('probe'), 'push.ps1': windowsScript('push') });

      // Assess
      expect(result.stdout).toContain('2 file(s) parse and use nothing newer than Windows PowerShell 5.1');
      expect(result.code).toBe(0);
    },
  );

  itPwsh(`reports each construct newer than PowerShell 5.1, and parse errors${gate.label}`, async () => {
    // Prepare
    const newer = [
      "$a = $null ?? 'x'",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: PowerShell's ${name} variable syntax
      '$b = ${a}?.Length',
      '$c = $true ? 1 : 2',
      'Get-Item x && Get-Item y',
      '1..3 | ForEach-Object -Parallel { $_ }',
      "'{}' | ConvertFrom-Json -AsHashtable",
      'Join-Path a b c',
      'Get-Content x -AsByteStream',
      "'x' | Set-Content -Path y",
      "'x' | Out-File -FilePath y",
      '$n = 1uy',
      '$s = "`e[0m"',
      'if ($IsWindows) { }',
      "'x' > out.txt",
      "[System.IO.File]::Move('a', 'b', $true)",
      '$k = $rsa.ExportSubjectPublicKeyInfo()',
      'function f { process { } clean { } }',
      "$u = 'caf\u00e9'",
    ];

    // Act
    const result = await check({ 'newer.ps1': newer.join('\n'), 'broken.ps1': 'if ($x { }' });

    // Assess
    expect(result.code).toBe(1);
    for (const needle of [
      "null-coalescing operator '??'",
      "null-conditional operator '?.'",
      'ternary operator',
      'pipeline chain',
      'ForEach-Object -Parallel',
      'ConvertFrom-Json -AsHashtable',
      'Join-Path with more than two paths',
      'Get-Content -AsByteStream',
      'Set-Content writes with a version-dependent default encoding',
      'Out-File writes with a version-dependent default encoding',
      "number literal '1uy'",
      'escape sequence',
      '$IsWindows',
      'file redirection',
      '[System.IO.File]::Move with an overwrite argument',
      'ExportSubjectPublicKeyInfo',
      'clean block',
      'not plain ASCII',
      'broken.ps1:1',
    ]) {
      expect(result.stdout).toContain(needle);
    }
  });
});

describe('sealed delivery on a simulated Windows host, run with PowerShell 7', () => {
  let ground: Ground | undefined;
  afterEach(async () => {
    await ground?.close();
    ground = undefined;
  });

  const start = async (component: Record<string, unknown> = { token: 'expired' }) => {
    ground = await startWindowsGround(component);
    return ground;
  };

  /** The state directory's entries but its lock file, which stays (taking a lock never removes it). */
  const stateEntries = (g: Ground) => readdirSync(stateDir(g)).filter((n) => n !== 'host.lock');

  itPwsh(
    `prints a SubjectPublicKeyInfo node accepts as RSA-2048, and keeps the private key for SYSTEM and Administrators only${gate.label}`,
    async () => {
      // Prepare
      const g = await start();

      // Act
      const spki = await probeKey(g);

      // Assess
      const key = createPublicKey({ key: Buffer.from(spki, 'base64'), format: 'der', type: 'spki' });
      expect(key.asymmetricKeyType).toBe('rsa');
      expect(key.asymmetricKeyDetails).toMatchObject({ modulusLength: 2048, publicExponent: 65537n });
      // Re-encoding by node gives the same DER: the hand-built encoding is canonical.
      expect(key.export({ format: 'der', type: 'spki' }).toString('base64')).toBe(spki);
      const keyFile = join(stateDir(g), `seal-${RUN_ID}.key`);
      expect(g.fleet.windowsAcl(HOST, keyFile)).toMatchObject({
        hostPath: `C:\\ProgramData\\kasm-token-reconciler\\seal-${RUN_ID}.key`,
        private: true,
        inheritanceRemoved: true,
        readers: ['SYSTEM', 'Administrators'],
      });
      expect(g.fleet.windowsAcl(HOST, stateDir(g))).toMatchObject({
        sddl: 'D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)',
        private: true,
      });
    },
  );

  itPwsh(
    `opens what lambda/seal.ts sealed, writes the token without BOM or newline, deletes the key, never prints it${gate.label}`,
    async () => {
      // Prepare: a stopped service, so the file stays for inspection.
      const g = await start({ token: 'expired', running: false });
      const sealed = sealFor(await probeKey(g), `${REGISTRATION_TOKEN}\n`);

      // Act
      const result = await windowsStep(g, 'push', {
        SSM_Deliveries: `${HOST}:windows:${sealed}`,
        SSM_WaitSeconds: '2',
      });

      // Assess
      expect(result.exitCode, result.stderr).toBe(0);
      expect(`${result.stdout}${result.stderr}`).not.toContain(REGISTRATION_TOKEN);
      const parsed = parsePushOutput(result.stdout);
      expect(parsed.ok && parsed.value.outcomes).toEqual([
        {
          kind: 'written',
          after: expect.objectContaining({
            name: 'windows',
            running: false,
            registrationFileAgeSeconds: expect.any(Number),
          }),
        },
      ]);
      const file = join(g.fleet.hostRoot(HOST), 'C/Program Files/Kasm', REGISTRATION_FILE_NAME);
      expect(readFileSync(file).toString('hex')).toBe(Buffer.from(REGISTRATION_TOKEN).toString('hex'));
      expect(g.fleet.windowsAcl(HOST, file)).toMatchObject({
        sddl: 'D:P(A;;FA;;;SY)(A;;FA;;;BA)',
        readers: ['SYSTEM', 'Administrators'],
      });
      // The key is gone; the file still waits, so the marker of its first delivery stays (one restart per delivery).
      expect(stateEntries(g)).toEqual(['delivered-windows.txt']);
      // No temp file is left next to the config.
      expect(readdirSync(join(g.fleet.hostRoot(HOST), 'C/Program Files/Kasm')).sort()).toEqual(
        ['config.yaml', 'log', REGISTRATION_FILE_NAME].sort(),
      );
      // The service was stopped, so it was not restarted.
      expect(g.fleet.standInCalls(HOST).filter((c) => c.command === 'Restart-Service')).toEqual([]);
    },
  );

  itPwsh(
    `fails closed: a token sealed to another key cannot be opened, and the key is deleted anyway${gate.label}`,
    async () => {
      // Prepare
      const g = await start();
      await probeKey(g);
      const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
      const sealed = sealFor(
        other.export({ format: 'der', type: 'spki' }).toString('base64'),
        REGISTRATION_TOKEN,
      );

      // Act
      const result = await windowsStep(g, 'push', {
        SSM_Deliveries: `${HOST}:windows:${sealed}`,
        SSM_WaitSeconds: '0',
      });
      const again = await windowsStep(g, 'push', {
        SSM_Deliveries: `${HOST}:windows:${sealed}`,
        SSM_WaitSeconds: '0',
      });

      // Assess
      expect(result.stdout).toBe('ktr-push v1\ncomp windows push=failed reason=unseal-failed\nend\n');
      expect(again.stdout).toBe('ktr-push v1\ncomp windows push=failed reason=key-missing\nend\n');
      expect(existsSync(join(g.fleet.hostRoot(HOST), 'C/Program Files/Kasm', REGISTRATION_FILE_NAME))).toBe(
        false,
      );
      expect(stateEntries(g)).toEqual([]);
    },
  );

  itPwsh(
    `reports no delivery for a push that names other hosts, makes no key when not asked to, and honours WindowsInstallDir${gate.label}`,
    async () => {
      // Prepare
      const g = await start({ token: 'valid' });

      // Act
      const probe = await windowsStep(g, 'probe', { SSM_KeyPair: 'none' });
      const trailingBackslash = await windowsStep(g, 'probe', {
        SSM_WindowsInstallDir: 'C:\\Program Files\\Kasm\\',
      });
      const otherDrive = await windowsStep(g, 'probe', { SSM_WindowsInstallDir: 'D:\\Kasm' });
      const push = await windowsStep(g, 'push', {
        SSM_Deliveries: `i-0123456789abcdef0:windows:${'A'.repeat(342)}==`,
      });

      // Assess
      expect(probe.stdout).toMatch(
        /^ktr-probe v1\nhost unseal=1 now=\d+\ncomp windows token=[\w-]+\.[\w-]+ reg=absent running=true\nend\n$/,
      );
      expect(trailingBackslash.stdout).toContain('comp windows token=');
      expect(otherDrive.stdout).toMatch(/^ktr-probe v1\nhost unseal=1 now=\d+\nend\n$/);
      expect(push.stdout).toBe('ktr-push v1\nhost result=no-delivery\nend\n');
      expect(existsSync(stateDir(g))).toBe(false);
      expect(g.fleet.standInCalls(HOST).map((c) => c.command)).toEqual(['Get-Service', 'Get-Service']);
    },
  );
  itPwsh(
    `moves a state directory a non-administrator made, or a junction there, aside unread, and makes its key in a fresh private one${gate.label}`,
    async () => {
      // Prepare: one host whose state directory a user made (with a file of theirs in it).
      const g = await start({ token: 'expired' });
      mkdirSync(stateDir(g), { recursive: true });
      writeFileSync(join(stateDir(g), 'planted.txt'), 'a user was here');
      g.fleet.setWindowsOwner(HOST, stateDir(g), USER_SID);

      // Act
      const owned = await windowsStep(g, 'probe', { SSM_KeyPair: 'create', SSM_RunId: 'run-owned' });
      rmSync(stateDir(g), { recursive: true });
      const elsewhere = join(g.fleet.hostRoot(HOST), 'C/Users/Public/trap');
      mkdirSync(elsewhere, { recursive: true });
      symlinkSync(elsewhere, stateDir(g));
      const junction = await windowsStep(g, 'probe', { SSM_KeyPair: 'create', SSM_RunId: 'run-junction' });

      // Assess: a key both times, in a real private directory; what stood there set aside as it was.
      for (const result of [owned, junction]) {
        expect(parseProbeOutput(result.stdout), result.stdout).toMatchObject({
          ok: true,
          value: { sealingKey: { kind: 'ready' } },
        });
      }
      expect(lstatSync(stateDir(g)).isDirectory()).toBe(true);
      expect(g.fleet.windowsAcl(HOST, stateDir(g))).toMatchObject({ sddl: PRIVATE_DIR_SDDL });
      expect(readdirSync(elsewhere)).toEqual([]);
      const aside = readdirSync(join(g.fleet.hostRoot(HOST), 'C/ProgramData')).filter((n) =>
        n.startsWith('kasm-token-reconciler.untrusted-'),
      );
      expect(aside).toHaveLength(2);
      const asideDirs = aside.map((n) => join(g.fleet.hostRoot(HOST), 'C/ProgramData', n));
      expect(asideDirs.map((d) => lstatSync(d).isSymbolicLink()).sort()).toEqual([false, true]);
      const userDir = asideDirs.find((d) => !lstatSync(d).isSymbolicLink()) ?? '';
      expect(readdirSync(userDir)).toEqual(['planted.txt']);
      expect(readFileSync(join(userDir, 'planted.txt'), 'utf8')).toBe('a user was here');
    },
  );

  itPwsh(
    `keeps no entry but SYSTEM's and Administrators' on the state directory: one with another explicit entry is set aside and made again${gate.label}`,
    async () => {
      // Prepare: a state directory of the product's own, to which someone then added Users: full control.
      const g = await start({ token: 'expired' });
      await probeKey(g);
      g.fleet.addWindowsAce(HOST, stateDir(g), 'S-1-5-32-545', 'F');
      expect(g.fleet.windowsAcl(HOST, stateDir(g))?.readers).toContain('Users');

      // Act
      const result = await windowsStep(g, 'probe', { SSM_KeyPair: 'create', SSM_RunId: 'run-again' });

      // Assess
      expect(result.stdout).toMatch(/^key spki=/m);
      expect(g.fleet.windowsAcl(HOST, stateDir(g))).toMatchObject({
        sddl: PRIVATE_DIR_SDDL,
        readers: ['SYSTEM', 'Administrators'],
      });
      expect(stateEntries(g)).toEqual(['seal-run-again.key']);
    },
  );

  itPwsh(
    `keeps the private key encrypted at rest with DPAPI, never as plain XML, and the push still opens what was sealed to it${gate.label}`,
    async () => {
      // Prepare
      const g = await start({ token: 'expired', running: false });

      // Act
      const sealed = sealFor(await probeKey(g), REGISTRATION_TOKEN);
      const atRest = readFileSync(join(stateDir(g), `seal-${RUN_ID}.key`), 'utf8');
      const result = await windowsStep(g, 'push', { SSM_Deliveries: `${HOST}:windows:${sealed}` });

      // Assess: no XML key in the file, in any encoding a reader would try, and the key worked.
      for (const form of ['<RSAKeyValue>', '<Modulus>', '<D>']) {
        expect(atRest).not.toContain(form);
        expect(atRest.toLowerCase()).not.toContain(Buffer.from(form, 'utf16le').toString('hex'));
        expect(atRest).not.toContain(Buffer.from(form).toString('base64').slice(0, 12));
      }
      expect(atRest).toMatch(/^01000000d08c9ddf0115d1118c7a00c04fc297eb[0-9a-f]+$/);
      expect(result.stdout).toMatch(/^comp windows push=written/m);
    },
  );

  itPwsh(
    `replaces a registration file that waits from an earlier delivery in one rename, never leaving the name empty${gate.label}`,
    async () => {
      // Prepare: a first delivery the (stopped) service has not read; then this run's key.
      const g = await start({ token: 'expired', running: false });
      const first = sealFor(await probeKey(g), REGISTRATION_TOKEN);
      await windowsStep(g, 'push', { SSM_Deliveries: `${HOST}:windows:${first}` });
      const sealed = sealFor(await probeKey(g), REGISTRATION_TOKEN);
      const events: string[] = [];
      const watcher = watch(installDir(g), (type, name) => {
        if (name === REGISTRATION_FILE_NAME) events.push(type);
      });

      // Act
      let result: StepResult;
      try {
        result = await windowsStep(g, 'push', { SSM_Deliveries: `${HOST}:windows:${sealed}` });
        await new Promise((resolve) => setTimeout(resolve, 200));
      } finally {
        watcher.close();
      }

      // Assess: the name changed hands once (a rename over it), not a delete and then a rename.
      expect(result.stdout).toMatch(/^comp windows push=written/m);
      expect(events).toEqual(['rename']);
      expect(readFileSync(join(installDir(g), REGISTRATION_FILE_NAME), 'utf8')).toBe(REGISTRATION_TOKEN);
    },
  );

  itPwsh(
    `stands back, writing nothing, where another run's file waits or the config was saved since this run's key${gate.label}`,
    async () => {
      // Prepare: two runs' keys, made before either pushed; run A delivers first.
      const g = await start({ token: 'expired', running: false });
      const a = sealFor(await probeKey(g, 'run-a'), REGISTRATION_TOKEN);
      const b = sealFor(await probeKey(g, 'run-b'), REGISTRATION_TOKEN);
      const c = sealFor(await probeKey(g, 'run-c'), REGISTRATION_TOKEN);
      const pushed = await windowsStep(g, 'push', {
        SSM_RunId: 'run-a',
        SSM_Deliveries: `${HOST}:windows:${a}`,
      });
      const file = join(installDir(g), REGISTRATION_FILE_NAME);

      // Act: run B finds A's file waiting; run C finds the config saved (a new token) after its key.
      const waiting = await windowsStep(g, 'push', {
        SSM_RunId: 'run-b',
        SSM_Deliveries: `${HOST}:windows:${b}`,
      });
      rmSync(file);
      await g.fleet.writeToken(HOST, 'windows', g.fleet.readToken(HOST, 'windows'));
      const changed = await windowsStep(g, 'push', {
        SSM_RunId: 'run-c',
        SSM_Deliveries: `${HOST}:windows:${c}`,
      });

      // Assess
      expect(pushed.stdout).toMatch(/^comp windows push=written/m);
      expect(parsePushOutput(waiting.stdout, ['windows'])).toMatchObject({
        ok: true,
        value: { outcomes: [{ kind: 'skipped', reason: 'already-waiting' }] },
      });
      expect(parsePushOutput(changed.stdout, ['windows'])).toMatchObject({
        ok: true,
        value: { outcomes: [{ kind: 'skipped', reason: 'config-changed' }] },
      });
      expect(existsSync(file)).toBe(false);
      expect(stateEntries(g).filter((n) => n.startsWith('seal-'))).toEqual([]);
    },
  );

  itPwsh(
    `lets two pushes at once on one host check and write one at a time: one writes, the other stands back${gate.label}`,
    async () => {
      // Prepare
      const g = await start({ token: 'expired', running: false });
      const a = sealFor(await probeKey(g, 'run-a'), REGISTRATION_TOKEN);
      const b = sealFor(await probeKey(g, 'run-b'), REGISTRATION_TOKEN);

      // Act
      const results = await Promise.all([
        windowsStep(g, 'push', { SSM_RunId: 'run-a', SSM_Deliveries: `${HOST}:windows:${a}` }),
        windowsStep(g, 'push', { SSM_RunId: 'run-b', SSM_Deliveries: `${HOST}:windows:${b}` }),
      ]);

      // Assess
      const kinds = results.map((r) => {
        const parsed = parsePushOutput(r.stdout, ['windows']);
        return parsed.ok ? parsed.value.outcomes.map((o) => o.kind).join() : r.stdout;
      });
      expect(kinds.sort()).toEqual(['skipped', 'written']);
    },
  );

  itPwsh(
    `sweeps what a push killed half-way left, at the next probe: its temp file beside the config and its claimed key${gate.label}`,
    async () => {
      // Prepare
      const g = await start({ token: 'expired', running: false });
      await probeKey(g);
      const temp = join(installDir(g), `.${REGISTRATION_FILE_NAME}.x1y2z3ab.c4d.tmp`);
      writeFileSync(temp, REGISTRATION_TOKEN);
      const claimed = join(stateDir(g), 'seal-run-killed.key.used');
      writeFileSync(claimed, 'a key a killed push had claimed');

      // Act
      const result = await windowsStep(g, 'probe', { SSM_KeyPair: 'none', SSM_RunId: 'run-after' });

      // Assess
      expect(parseProbeOutput(result.stdout).ok, result.stdout).toBe(true);
      expect(existsSync(temp)).toBe(false);
      expect(existsSync(claimed)).toBe(false);
      expect(g.fleet.strayTokenFiles(REGISTRATION_TOKEN)).toEqual({});
    },
  );

  itPwsh(
    `fails the push, writing nothing, when registration_token.txt belongs to a non-administrator${gate.label}`,
    async () => {
      // Prepare
      const g = await start({ token: 'expired', running: false });
      const sealed = sealFor(await probeKey(g), REGISTRATION_TOKEN);
      const file = join(g.fleet.hostRoot(HOST), 'C/Program Files/Kasm', REGISTRATION_FILE_NAME);
      writeFileSync(file, 'planted by a user');
      g.fleet.setWindowsOwner(HOST, file, 'S-1-5-21-1004336348-1177238915-682003330-1001');

      // Act
      const result = await windowsStep(g, 'push', { SSM_Deliveries: `${HOST}:windows:${sealed}` });

      // Assess
      expect(result.stdout).toContain('comp windows push=failed reason=target-not-trusted');
      expect(readFileSync(file, 'utf8')).toBe('planted by a user');
      expect(stateEntries(g)).toEqual([]);
    },
  );

  itPwsh(
    `never replaces a waiting file whose DACL gives someone else an explicit entry (a replace keeps the DACL), and limits an inherited one first${gate.label}`,
    async () => {
      // Prepare: an administrator's file inheriting the folder's DACL (Users may read), and later one with
      // an explicit entry for a user.
      const g = await start({ token: 'expired', running: false });
      const file = join(installDir(g), REGISTRATION_FILE_NAME);
      writeFileSync(file, 'placed by an administrator');
      const first = sealFor(await probeKey(g, 'run-inherited'), REGISTRATION_TOKEN);

      // Act
      const inherited = await windowsStep(g, 'push', {
        SSM_RunId: 'run-inherited',
        SSM_Deliveries: `${HOST}:windows:${first}`,
      });
      g.fleet.addWindowsAce(HOST, file, USER_SID, 'R');
      const second = sealFor(await probeKey(g, 'run-explicit'), REGISTRATION_TOKEN);
      const explicit = await windowsStep(g, 'push', {
        SSM_RunId: 'run-explicit',
        SSM_Deliveries: `${HOST}:windows:${second}`,
      });

      // Assess
      expect(inherited.stdout).toMatch(/^comp windows push=written/m);
      expect(explicit.stdout).toContain('comp windows push=failed reason=target-not-trusted');
      expect(g.fleet.windowsAcl(HOST, file)?.readers).toContain(USER_SID);
    },
  );

  itPwsh(
    `does nothing but delete the key past NotAfter, and stops with missing-parameters without SSM_ variables${gate.label}`,
    async () => {
      // Prepare
      const g = await start({ token: 'expired', running: false });
      const sealed = sealFor(await probeKey(g), REGISTRATION_TOKEN);

      // Act
      const late = await windowsStep(g, 'push', {
        SSM_Deliveries: `${HOST}:windows:${sealed}`,
        SSM_NotAfter: String(Math.floor(Date.now() / 1000) - 5),
      });
      const bare = await g.fleet.runStep({
        instanceId: HOST,
        action: 'aws:runPowerShellScript',
        script: windowsScript('push'),
        env: { AWS_SSM_INSTANCE_ID: HOST },
        timeoutSeconds: 120,
      });

      // Assess
      expect(late.stdout).toBe('ktr-push v1\nhost result=too-late\nend\n');
      expect(stateEntries(g)).toEqual([]);
      expect(existsSync(join(g.fleet.hostRoot(HOST), 'C/Program Files/Kasm', REGISTRATION_FILE_NAME))).toBe(
        false,
      );
      expect(bare.exitCode).toBe(1);
      expect(bare.stdout).toBe('ktr-push v1\nhost error=missing-parameters\nend\n');
    },
  );
});
