/**
 * The Linux steps of the probe and push documents run for real (sh → bash, as root, in a simulated
 * host's namespaces): where the sealing key lives and how long it may be used, the push's NotAfter,
 * what an SSM Agent too old to pass parameters gets, and the static check that holds the scripts to
 * bash 4.2 (no bash 4.2 can be installed here; the steps themselves run under the system bash 5.2).
 */

import { spawn } from 'node:child_process';
import {
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sealFor } from '../../lambda/seal.ts';
import { linuxScript } from '../../shared/documents/ssm-documents.ts';
import { MISSING_PARAMETERS_PROBLEM, parseProbeOutput, parsePushOutput } from '../../shared/host-report.ts';
import { bash42Problems } from '../bash42-check.ts';
import { substitute } from '../proving-ground/aws/documents.ts';
import { type Ground, REGISTRATION_TOKEN, startGround, waitFor } from '../proving-ground/testing.ts';
import type { StepResult } from '../proving-ground/types.ts';
import { FUSE_LOG, mountLines } from './fuse-owner.ts';
import {
  ENVIRON_SPY,
  HOLD_WRITER_SPY,
  injectorSpy,
  ptraceGate,
  spyLogPath,
  takerSpy,
  tamperSpy,
  withOwnerSpy,
  withRootLines,
  zeroSwapperSpy,
} from './owner-spies.ts';

const HOST = 'i-0a1b2c3d4e5f60042';
const OTHER = 'i-0a1b2c3d4e5f60043';
/** Two components, one whose directory cannot be written: what a forged line would claim was written. */
const PAIR = 'i-0a1b2c3d4e5f60044';
/** A header.payload no Kasm issued: `{"forged":true}` . `{"exp":9999999999}`. */
const FORGED_TOKEN = 'eyJmb3JnZWQiOnRydWV9.eyJleHAiOjk5OTk5OTk5OTl9';
/** A host whose registration file its owner takes away the moment it appears. */
const TAKEN = 'i-0a1b2c3d4e5f60048';
/** A host whose push is killed half-way. */
const KILLED = 'i-0a1b2c3d4e5f60047';
/** A host two runs push to at once. */
const TWIN = 'i-0a1b2c3d4e5f60046';
/** A host whose owner mounts its own FUSE server over the agent's config directory. */
const FUSED = 'i-0a1b2c3d4e5f60045';
/** A host whose config directory's owner has no usable account (none, or root's group as its primary group). */
const ORPHAN = 'i-0a1b2c3d4e5f60049';
/** What root's command environment may hold that the owner must never read (a proxy password). */
const PROXY = 'http://proxyuser:pr0xy-s3cret@proxy.internal:3128';

describe('the bash 4.2 check', () => {
  it('finds nothing newer than bash 4.2 in the Linux steps as the documents carry them', () => {
    for (const role of ['probe', 'push'] as const) {
      // Act
      const problems = bash42Problems(linuxScript(role));

      // Assess
      expect(problems, role).toEqual([]);
    }
  });

  it('flags each construct that fails or differs before bash 4.3 or 4.4, and accepts the 4.2-safe forms', () => {
    // Prepare
    const fixture = [
      'for f in "${files[@]}"; do :; done',
      'declare -n ref=other',
      'echo "${name@Q}"',
      "mapfile -d '' -t parts < list",
      'echo "${parts[-1]}"',
      'wait -n',
      'echo "$EPOCHSECONDS $EPOCHREALTIME"',
      'for f in ${files[@]+"${files[@]}"}; do :; done',
      'for row in "${COMPONENTS[@]}"; do :; done',
      'declare -A status',
    ].join('\n');

    // Act
    const problems = bash42Problems(fixture);

    // Assess
    expect(problems.map((p) => Number(p.split(':')[0]))).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(problems[0]).toContain('${files[@]+"${files[@]}"}');
  });
});

/** The ptrace injection test needs ptrace_scope 0 (or no Yama) and x86_64: see ptraceGate. */
const ptrace = ptraceGate();
if (ptrace.skip) console.warn(`The ptrace injection test is skipped:${ptrace.label}`);
const itPtrace = it.skipIf(ptrace.skip);

describe('the gate of the ptrace injection test', () => {
  const made: string[] = [];
  afterAll(() => {
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
  });
  /** A stand-in for Yama's setting, holding `scope`. */
  const yama = (scope: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'ktr-yama-'));
    made.push(dir);
    writeFileSync(join(dir, 'ptrace_scope'), `${scope}\n`);
    return join(dir, 'ptrace_scope');
  };

  it('runs it without Yama or at scope 0, and skips it on another architecture even in CI', () => {
    // Act & Assess
    expect(ptraceGate({}, 'x64', '/nonexistent/ptrace_scope')).toEqual({ skip: false, label: '' });
    expect(ptraceGate({}, 'x64', yama('0'))).toEqual({ skip: false, label: '' });
    expect(ptraceGate({ CI: 'true' }, 'arm64', yama('0')).skip).toBe(true);
  });

  it('fails it in CI where root can lower the scope, and skips it where nobody can or outside CI', () => {
    // Act
    const ci = ptraceGate({ CI: 'true' }, 'x64', yama('1'));

    // Assess
    expect(ci.skip).toBe(false);
    expect(ci.problem).toContain('sysctl -w kernel.yama.ptrace_scope=0');
    expect(ci.label).toBe(' [ptrace_scope 1: fails in CI]');
    for (const gate of [ptraceGate({}, 'x64', yama('1')), ptraceGate({ CI: 'true' }, 'x64', yama('3'))]) {
      expect(gate.skip).toBe(true);
      expect(gate.problem).toBeUndefined();
    }
  });
});

describe('the Linux probe and push on a simulated host', () => {
  let ground: Ground;
  beforeAll(async () => {
    ground = await startGround({
      kasm: { heartbeatSeconds: 1 },
      hosts: [
        { id: HOST, components: { agent: { token: 'expired', running: false } } },
        { id: OTHER, components: { agent: { token: 'expired', running: false } } },
        { id: FUSED, components: { agent: { token: 'expired', running: false } } },
        { id: TWIN, components: { agent: { token: 'expired', running: false } } },
        { id: KILLED, components: { agent: { token: 'expired', running: false } } },
        { id: TAKEN, components: { agent: { token: 'expired', running: false } } },
        { id: ORPHAN, components: { agent: { token: 'expired', running: false } } },
        {
          id: PAIR,
          components: {
            agent: { token: 'expired', running: false },
            guac: { token: 'expired', running: false, readOnly: true },
          },
        },
      ],
    });
  });
  afterAll(async () => {
    await ground?.close();
  });

  const runDir = (id: string) => join(ground.fleet.hostRoot(id), 'run/kasm-token-reconciler');
  /**
   * One step; `spliced`: as an SSM Agent before 3.3.2746.0 runs it, the SSM_ values spliced into the text
   * at their placeholders and no SSM_ variable set.
   */
  const step = (
    id: string,
    role: 'probe' | 'push',
    env: Record<string, string>,
    spliced = false,
    spy?: string,
    rootLines: readonly string[] = [],
  ): Promise<StepResult> => {
    const params = new Map(Object.entries(env).map(([k, v]) => [k.replace(/^SSM_/, ''), [v]]));
    const script = withRootLines(
      spliced ? substitute(linuxScript(role), params) : linuxScript(role),
      rootLines,
    );
    return ground.fleet.runStep({
      instanceId: id,
      action: 'aws:runShellScript',
      script: spy ? withOwnerSpy(script, spy) : script,
      env: { AWS_SSM_INSTANCE_ID: id, ...(spliced ? {} : env) },
      timeoutSeconds: 60,
    });
  };
  /** A probe's variables: `create` makes a sealing key, `none` is a dry run's probe. */
  const probeEnv = (runId: string, keyPair: 'create' | 'none') => ({
    SSM_InstallRoot: '/opt/kasm/current',
    SSM_RunId: runId,
    SSM_KeyPair: keyPair,
    SSM_GraceSeconds: '3600',
  });
  const probe = (id: string, runId: string, spliced = false) =>
    step(id, 'probe', probeEnv(runId, 'create'), spliced);
  /** A push's variables: `sealed` delivered to `components` of `id`, no wait on the host. */
  const pushEnv = (
    id: string,
    runId: string,
    sealed: string,
    components = 'agent',
    notAfter = Math.floor(Date.now() / 1000) + 600,
  ) => ({
    SSM_InstallRoot: '/opt/kasm/current',
    SSM_RunId: runId,
    SSM_Deliveries: `${id}:${components}:${sealed}`,
    SSM_WaitSeconds: '0',
    SSM_NotAfter: String(notAfter),
  });
  const push = (
    id: string,
    runId: string,
    spki: string,
    notAfter = Math.floor(Date.now() / 1000) + 600,
    spliced = false,
  ) => step(id, 'push', pushEnv(id, runId, sealFor(spki, REGISTRATION_TOKEN), 'agent', notAfter), spliced);
  /** A push of `components` to `id` with an owner's `spy` beside it, and a proxy password in root's environment. */
  const spiedPush = async (id: string, components: string, spy: string) => {
    const spki = spkiOf(await probe(id, `run-spied-${components}`));
    rmSync(spyLogPath(ground.fleet.hostRoot(id)), { force: true });
    const result = await step(
      id,
      'push',
      {
        ...pushEnv(id, `run-spied-${components}`, sealFor(spki, REGISTRATION_TOKEN), components),
        https_proxy: PROXY,
      },
      false,
      spy,
    );
    const spied = readFileSync(spyLogPath(ground.fleet.hostRoot(id)), 'utf8');
    return { result, spied };
  };
  const spkiOf = (result: StepResult): string => {
    const parsed = parseProbeOutput(result.stdout);
    if (!parsed.ok || parsed.value.sealingKey?.kind !== 'ready')
      throw new Error(result.stdout + result.stderr);
    return parsed.value.sealingKey.spkiDerBase64;
  };

  it('keeps the sealing key in /run/kasm-token-reconciler, a root-only directory, and nowhere on persistent disk', async () => {
    // Act
    const result = await probe(HOST, 'run-tmpfs');

    // Assess
    spkiOf(result);
    const dir = statSync(runDir(HOST));
    expect([dir.uid, dir.mode & 0o7777]).toEqual([0, 0o700]);
    const key = statSync(join(runDir(HOST), 'seal-run-tmpfs.key'));
    expect([key.uid, key.mode & 0o777]).toEqual([0, 0o600]);
    expect(existsSync(join(ground.fleet.hostRoot(HOST), 'var/lib/kasm-token-reconciler'))).toBe(false);
  });

  it('refuses to make a key in a state directory that is a symlink, writing nothing where it points', async () => {
    // Prepare
    const elsewhere = join(ground.fleet.hostRoot(OTHER), 'tmp/elsewhere');
    mkdirSync(elsewhere, { recursive: true });
    symlinkSync('/tmp/elsewhere', runDir(OTHER));

    // Act
    const result = await probe(OTHER, 'run-link');

    // Assess
    expect(result.stdout).toContain('key error=state-dir-unsafe');
    expect(readdirSync(elsewhere)).toEqual([]);
    expect(lstatSync(runDir(OTHER)).isSymbolicLink()).toBe(true);
  });

  it('removes sealing keys older than their 900 s lifetime when it probes', async () => {
    // Prepare
    await probe(HOST, 'run-stale');
    const stale = join(runDir(HOST), 'seal-run-stale.key');
    const old = Date.now() / 1000 - 16 * 60;
    utimesSync(stale, old, old);

    // Act
    await step(HOST, 'probe', probeEnv('run-x', 'none'));

    // Assess
    expect(existsSync(stale)).toBe(false);
  });

  it('fails the push with key-expired and removes the key when the key is older than its lifetime', async () => {
    // Prepare
    const spki = spkiOf(await probe(HOST, 'run-expired'));
    const key = join(runDir(HOST), 'seal-run-expired.key');
    const old = Date.now() / 1000 - 901;
    utimesSync(key, old, old);

    // Act
    const result = await push(HOST, 'run-expired', spki);

    // Assess
    const parsed = parsePushOutput(result.stdout, ['agent']);
    expect(parsed.ok && parsed.value.outcomes).toEqual([
      { kind: 'failed', name: 'agent', reason: 'key-expired' },
    ]);
    expect(existsSync(key)).toBe(false);
    expect(ground.fleet.registrationFile(HOST, 'agent')).toBeUndefined();
  });

  it('does nothing but remove the key when the host clock is past NotAfter', async () => {
    // Prepare
    const spki = spkiOf(await probe(HOST, 'run-late'));

    // Act
    const result = await push(HOST, 'run-late', spki, Math.floor(Date.now() / 1000) - 5);

    // Assess
    expect(result.stdout.trim().split('\n')).toEqual(['ktr-push v1', 'host result=too-late', 'end']);
    expect(existsSync(join(runDir(HOST), 'seal-run-late.key'))).toBe(false);
    expect(ground.fleet.registrationFile(HOST, 'agent')).toBeUndefined();
  });

  it('writes registration_token.txt as the config directory owner, 0600, when the push is in time', async () => {
    // Prepare
    const spki = spkiOf(await probe(HOST, 'run-ok'));

    // Act
    const result = await push(HOST, 'run-ok', spki);

    // Assess
    expect(result.stdout).toMatch(/comp agent push=written/);
    expect(ground.fleet.registrationFile(HOST, 'agent')).toMatchObject({
      content: `${REGISTRATION_TOKEN}\n`,
      mode: '0600',
      uid: 1000,
      gid: 1000,
    });
    expect(existsSync(join(runDir(HOST), 'seal-run-ok.key'))).toBe(false);
    expect(ground.fleet.strayTokenFiles(REGISTRATION_TOKEN)).toEqual({});
  });

  it('probes and delivers with the values an SSM Agent before 3.3.2746.0 splices into the text, with no SSM_ variables', async () => {
    // Prepare: the earlier test's file is gone (a waiting one would make the push stand back).
    rmSync(ground.fleet.registrationFilePath(HOST, 'agent'), { force: true });
    const probed = await probe(HOST, 'run-spliced', true);
    const spki = spkiOf(probed);

    // Act
    const result = await push(HOST, 'run-spliced', spki, Math.floor(Date.now() / 1000) + 600, true);

    // Assess
    expect(probed.stdout).toMatch(/^comp agent token=/m);
    expect(result.stdout).toMatch(/^comp agent push=written/m);
    expect(ground.fleet.registrationFile(HOST, 'agent')).toMatchObject({
      content: `${REGISTRATION_TOKEN}\n`,
    });
    expect(existsSync(join(runDir(HOST), 'seal-run-spliced.key'))).toBe(false);
  });

  it('stops with missing-parameters and leaves nothing behind when the agent neither sets SSM_ variables nor splices', async () => {
    // Prepare
    const before = readdirSync(runDir(HOST)).sort();

    for (const role of ['probe', 'push'] as const) {
      // Act
      const result = await step(HOST, role, {});

      // Assess
      expect(result.exitCode, role).toBe(1);
      expect(result.stdout.trim().split('\n').slice(1), role).toEqual([
        'host error=missing-parameters',
        'end',
      ]);
      const parsed = role === 'probe' ? parseProbeOutput(result.stdout) : parsePushOutput(result.stdout);
      expect(parsed).toEqual({ ok: false, problem: MISSING_PARAMETERS_PROBLEM });
      expect(readdirSync(runDir(HOST)).sort(), role).toEqual(before);
    }
  });

  it("gives the processes it runs as the directory owner nothing of root's environment", async () => {
    // Prepare: a config directory owner reading /proc/<pid>/environ of every process of its uid.
    rmSync(ground.fleet.registrationFilePath(HOST, 'agent'), { force: true });

    // Act
    const { result, spied } = await spiedPush(HOST, 'agent', ENVIRON_SPY);

    // Assess: it saw the writer's environment: PATH, and what bash sets itself, nothing of root's.
    expect(result.stdout).toMatch(/^comp agent push=written/m);
    const vars = spied.split('\n').filter((l) => l.includes('='));
    expect(vars, spied).toContain('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    expect(spied).not.toContain('pr0xy-s3cret');
    expect(vars.filter((l) => !/^(PATH|PWD|OLDPWD|SHLVL|_)=/.test(l))).toEqual([]);
  });

  itPtrace(
    `believes no line the directory owner makes the writer print: a traced writer cannot report another component written${ptrace.label}`,
    async () => {
      if (ptrace.problem) throw new Error(ptrace.problem);
      // Prepare: the owner stops the writer, attaches with ptrace and makes it print a forged report
      // (guac's directory is read-only: its real outcome is write-denied), ending it with `end`.
      rmSync(ground.fleet.registrationFilePath(PAIR, 'agent'), { force: true });
      const forged = `written\ncomp guac push=written token=${FORGED_TOKEN} reg=absent running=true\nend\n`;

      // Act
      const { result, spied } = await spiedPush(PAIR, 'agent+guac', injectorSpy(forged));

      // Assess: the injection happened, and root printed none of it.
      expect(spied).toMatch(new RegExp(`^injected ${forged.length}$`, 'm'));
      expect(result.stdout).not.toContain(FORGED_TOKEN);
      const parsed = parsePushOutput(result.stdout, ['agent', 'guac']);
      expect(parsed.ok && parsed.value.outcomes).toEqual([
        { kind: 'failed', name: 'agent', reason: 'write-failed' },
        { kind: 'failed', name: 'guac', reason: 'write-denied' },
      ]);
    },
  );

  it('reads in bounded time and size a config its owner swaps for a link to /dev/zero whenever root starts a reader', {
    timeout: 180_000,
  }, async () => {
    // Prepare
    const config = ground.fleet.configPath(OTHER, 'agent');
    const hostConfig = '/opt/kasm/current/conf/app/agent/agent.app.config.yaml';
    rmSync(spyLogPath(ground.fleet.hostRoot(OTHER)), { force: true });
    const started = Date.now();

    // Act: five probes while the owner swaps; a read that follows the link even once never ends.
    const results: StepResult[] = [];
    for (let i = 0; i < 5; i++) {
      results.push(
        await step(OTHER, 'probe', probeEnv('run-zero', 'none'), false, zeroSwapperSpy(hostConfig)),
      );
    }
    restoreAside(config);

    // Assess: the owner was swapping all along, and every probe answered at once.
    expect(readFileSync(spyLogPath(ground.fleet.hostRoot(OTHER)), 'utf8')).toMatch(/^swapping$/m);
    expect(Date.now() - started).toBeLessThan(30_000);
    for (const result of results) {
      expect(result.timedOut).toBe(false);
      expect(parseProbeOutput(result.stdout).ok, result.stdout).toBe(true);
    }
  });

  it('believes a write only when it finds the file meant, or the component already took it: a file the owner removes is not written', async () => {
    // Prepare: the owner takes the file away the moment it appears, once as the component would (its
    // config saved first), once by just removing it.
    const config = '/opt/kasm/current/conf/app/agent/agent.app.config.yaml';
    const pushTaken = async (runId: string, consume: boolean) => {
      const spki = spkiOf(await probe(TAKEN, runId));
      return step(
        TAKEN,
        'push',
        pushEnv(TAKEN, runId, sealFor(spki, REGISTRATION_TOKEN)),
        false,
        takerSpy(config, consume),
      );
    };

    // Act
    const consumed = await pushTaken('run-consumed', true);
    const removed = await pushTaken('run-removed', false);

    // Assess
    expect(consumed.stdout).toMatch(/^comp agent push=written /m);
    expect(removed.stdout).toContain('comp agent push=failed reason=write-unconfirmed');
    expect(readFileSync(spyLogPath(ground.fleet.hostRoot(TAKEN)), 'utf8').match(/^took$/gm)).toHaveLength(2);
  });

  it.each([
    ['swaps in a regular file of its own of the same size', 'swap'],
    ['makes the written file readable by everyone (0644)', 'chmod'],
  ] as const)(
    'believes no write whose file its owner tampers with before root looks: one that %s',
    async (_, how) => {
      // Prepare
      const config = '/opt/kasm/current/conf/app/agent/agent.app.config.yaml';
      const registration = ground.fleet.registrationFilePath(TAKEN, 'agent');
      rmSync(registration, { force: true });
      rmSync(spyLogPath(ground.fleet.hostRoot(TAKEN)), { force: true });
      const runId = `run-tampered-${how}`;
      const spki = spkiOf(await probe(TAKEN, runId));

      // Act
      const result = await step(
        TAKEN,
        'push',
        pushEnv(TAKEN, runId, sealFor(spki, REGISTRATION_TOKEN)),
        false,
        tamperSpy(config, how),
      );

      // Assess: the owner struck after the write, and root did not take the file for the one it meant.
      expect(readFileSync(spyLogPath(ground.fleet.hostRoot(TAKEN)), 'utf8')).toMatch(/^tampered$/m);
      expect(result.stdout).toMatch(/^comp agent push=failed reason=write-unconfirmed$/m);
      // Root took away the file it could not vouch for: no copy of the token is left for anyone else to
      // read (chmod), and no file the component would take for one (swap).
      expect(ground.fleet.registrationFile(TAKEN, 'agent')).toBeUndefined();
      expect(ground.fleet.strayTokenFiles(REGISTRATION_TOKEN)[TAKEN]).toBeUndefined();
    },
  );

  it('neither reads nor writes in a config directory its owner mounted FUSE over, however root-owned it looks', async () => {
    // Prepare: the owner's server says "." is root's and serves a config whose token is past grace.
    const { tokenLifetimeSeconds, gracePeriodSeconds } = ground.scenario.kasm;
    const expired = await ground.api.mintToken(
      'agent',
      -(tokenLifetimeSeconds + gracePeriodSeconds),
      'fused',
    );
    const config = { name: 'agent.app.config.yaml', text: `manager:\n  token: ${expired}\n` };
    const fuse = mountLines('/opt/kasm/current/conf/app/agent', config);
    const spki = spkiOf(await probe(FUSED, 'run-fuse'));
    const log = join(ground.fleet.hostRoot(FUSED), FUSE_LOG);
    rmSync(log, { force: true });
    const env = { SSM_InstallRoot: '/opt/kasm/current', SSM_RunId: 'run-fuse' };

    // Act
    const probed = await step(
      FUSED,
      'probe',
      { ...env, SSM_KeyPair: 'none', SSM_GraceSeconds: '3600' },
      false,
      undefined,
      fuse,
    );
    const pushed = await step(
      FUSED,
      'push',
      {
        ...env,
        SSM_Deliveries: `${FUSED}:agent:${sealFor(spki, REGISTRATION_TOKEN)}`,
        SSM_WaitSeconds: '0',
        SSM_NotAfter: String(Math.floor(Date.now() / 1000) + 600),
      },
      false,
      undefined,
      fuse,
    );

    // Assess: the server ran under both steps, and was asked to open, create or write nothing.
    const served = readFileSync(log, 'utf8');
    expect(served.match(/^init$/gm), served).toHaveLength(2);
    expect(served).not.toMatch(/^(open|create|write|rename|setattr|unlink) /m);
    expect(served).not.toContain(Buffer.from(REGISTRATION_TOKEN).toString('hex'));
    expect(probed.stdout).toMatch(/^comp agent token=unreadable /m);
    expect(parsePushOutput(pushed.stdout, ['agent'])).toMatchObject({
      ok: true,
      value: { outcomes: [{ kind: 'failed', name: 'agent', reason: 'dir-on-user-mount' }] },
    });
  });

  it('lets two pushes at once on one host check and write one at a time: one writes, the other stands back', async () => {
    // Prepare: two runs' keys, made before either pushed, for a component that does not consume the file.
    const sealed = async (runId: string) => sealFor(spkiOf(await probe(TWIN, runId)), REGISTRATION_TOKEN);
    const [a, b] = [await sealed('run-a'), await sealed('run-b')];
    const pushWith = (runId: string, value: string) => step(TWIN, 'push', pushEnv(TWIN, runId, value));

    // Act
    const results = await Promise.all([pushWith('run-a', a), pushWith('run-b', b)]);

    // Assess
    const outcomes = results.map((r) => {
      const parsed = parsePushOutput(r.stdout, ['agent']);
      return parsed.ok
        ? parsed.value.outcomes.map((o) => (o.kind === 'skipped' ? `skipped ${o.reason}` : o.kind))
        : r.stdout;
    });
    expect(outcomes.flat().sort()).toEqual(['skipped already-waiting', 'written']);
    expect(ground.fleet.registrationFile(TWIN, 'agent')).toMatchObject({
      content: `${REGISTRATION_TOKEN}\n`,
    });
  });

  it('leaves nothing of a push killed while its writer held the token in a temp file, once the next probe ran', async () => {
    // Prepare: the owner holds the writer stopped (traced) as its mv starts, its temp file full; the step is then
    // killed (SIGKILL to all of it: what an execution timeout or a cancel does).
    const spki = spkiOf(await probe(KILLED, 'run-killed'));
    rmSync(spyLogPath(ground.fleet.hostRoot(KILLED)), { force: true });
    const stop = new AbortController();
    const script = withOwnerSpy(linuxScript('push'), HOLD_WRITER_SPY);
    const running = ground.fleet.runStep({
      instanceId: KILLED,
      action: 'aws:runShellScript',
      script,
      env: {
        AWS_SSM_INSTANCE_ID: KILLED,
        ...pushEnv(KILLED, 'run-killed', sealFor(spki, REGISTRATION_TOKEN)),
      },
      timeoutSeconds: 60,
      signal: stop.signal,
    });
    const spied = () =>
      readFileSync(spyLogPath(ground.fleet.hostRoot(KILLED)), { encoding: 'utf8', flag: 'a+' });
    await waitFor(() => /^(held|lost\b.*)$/m.test(spied()), 30_000, 'the owner to hold the writer');
    stop.abort();
    await running;
    expect(spied()).toMatch(/^held$/m);
    const left = ground.fleet.strayTokenFiles(REGISTRATION_TOKEN)[KILLED] ?? [];
    expect(left.map((path) => path.replace(/\.[^.]+$/, '.*'))).toEqual([
      '/opt/kasm/1.18.0/conf/app/agent/.registration_token.txt.*',
    ]);

    // Act: the next probe (a dry run's: no key).
    const result = await step(KILLED, 'probe', probeEnv('run-next', 'none'));

    // Assess: no copy of the token left, and no key of the killed push.
    expect(parseProbeOutput(result.stdout).ok, result.stdout).toBe(true);
    expect(ground.fleet.strayTokenFiles(REGISTRATION_TOKEN)[KILLED]).toBeUndefined();
    expect(readdirSync(runDir(KILLED)).filter((n) => n.startsWith('seal-'))).toEqual([]);
  });

  /**
   * A probe and a push to ORPHAN's agent while `arrange` holds (undone after): what each reported of the
   * component, and what its directory held after.
   */
  const orphaned = async (runId: string, arrange: () => () => void) => {
    rmSync(ground.fleet.registrationFilePath(ORPHAN, 'agent'), { force: true });
    const undo = arrange();
    try {
      const probed = await probe(ORPHAN, runId);
      const pushed = await push(ORPHAN, runId, spkiOf(probed));
      const dir = dirname(ground.fleet.configPath(ORPHAN, 'agent'));
      return { probed: probed.stdout, pushed: pushed.stdout, left: readdirSync(dir).sort() };
    } finally {
      undo();
    }
  };

  it('delivers nothing into a directory whose owner uid has no account on the host (dir-owner-unknown)', async () => {
    // Prepare: the agent's directory handed to uid 4242, which /etc/passwd does not know.
    const dir = dirname(ground.fleet.configPath(ORPHAN, 'agent'));
    const { uid, gid } = statSync(dir);

    // Act
    const seen = await orphaned('run-no-account', () => {
      chownSync(dir, 4242, 4242);
      return () => chownSync(dir, uid, gid);
    });

    // Assess: the probe read nothing there as nobody knows whom, and the push wrote nothing.
    expect(seen.probed).toMatch(/^comp agent token=unreadable /m);
    expect(seen.pushed).toMatch(/^comp agent push=failed reason=dir-owner-unknown$/m);
    expect(seen.left).toEqual(['agent.app.config.yaml']);
    expect(ground.fleet.strayTokenFiles(REGISTRATION_TOKEN)[ORPHAN]).toBeUndefined();
  });

  it("delivers nothing into a directory whose owner's primary group is root's (dir-owner-unknown)", async () => {
    // Prepare: the owner's account (uid 1000) with gid 0 as its primary group in the host's /etc/passwd.
    const passwd = join(ground.fleet.hostRoot(ORPHAN), 'etc/passwd');
    const accounts = readFileSync(passwd, 'utf8');
    const rooted = accounts.replace(/^([^:\n]+:x:1000:)\d+:/m, '$10:');
    expect(rooted).not.toBe(accounts);

    // Act
    const seen = await orphaned('run-root-group', () => {
      writeFileSync(passwd, rooted);
      return () => writeFileSync(passwd, accounts);
    });

    // Assess
    expect(seen.probed).toMatch(/^comp agent token=unreadable /m);
    expect(seen.pushed).toMatch(/^comp agent push=failed reason=dir-owner-unknown$/m);
    expect(seen.left).toEqual(['agent.app.config.yaml']);
    expect(ground.fleet.strayTokenFiles(REGISTRATION_TOKEN)[ORPHAN]).toBeUndefined();
  });

  /**
   * What a step killed half-way (SIGKILL: no EXIT trap runs) leaves on HOST: the writer's temp file with the
   * token (killed between its mktemp and its rename), a key a push had claimed (renamed) under the host's
   * lock, and a key a probe was still writing (openssl's output, renamed only once complete).
   */
  const plantLeftovers = () => {
    const dir = dirname(ground.fleet.configPath(HOST, 'agent'));
    const temp = join(dir, '.registration_token.txt.Xk3q9Z');
    writeFileSync(temp, `${REGISTRATION_TOKEN}\n`, { mode: 0o600 });
    chownSync(temp, 1000, 1000);
    mkdirSync(runDir(HOST), { recursive: true, mode: 0o700 });
    const claimed = join(runDir(HOST), 'seal-run-killed.key.used');
    writeFileSync(claimed, 'a key a killed push had claimed', { mode: 0o600 });
    const half = join(runDir(HOST), 'seal-run-killed-probe.key.tmp');
    writeFileSync(half, 'half of a key a killed probe was writing', { mode: 0o600 });
    expect(ground.fleet.strayTokenFiles(REGISTRATION_TOKEN)).toEqual({
      [HOST]: [`/${relative(ground.fleet.hostRoot(HOST), temp)}`],
    });
    return [temp, claimed, half];
  };

  it("sweeps what a step killed half-way left at the next probe: the writer's temp file with the token, the claimed key, a half-made key", async () => {
    // Prepare
    const [temp, claimed, half] = plantLeftovers();

    // Act: the next probe, even one that makes no key (a dry run's).
    const result = await step(HOST, 'probe', probeEnv('run-after', 'none'));

    // Assess
    expect(parseProbeOutput(result.stdout).ok, result.stdout).toBe(true);
    for (const path of [temp, claimed, half]) expect(existsSync(path as string), path).toBe(false);
    expect(ground.fleet.strayTokenFiles(REGISTRATION_TOKEN)).toEqual({});
  });

  it('leaves the sweep to the next step that takes the host lock when a probe cannot take it (host-busy)', {
    timeout: 120_000,
  }, async () => {
    // Prepare: leftovers, and the host's lock held by something that did not sweep them. In a real run the
    // holder is a step, which swept when it took the lock; and only a step holding the lock writes. So this
    // is a holder that never sweeps: a process left over from a killed step still holding its descriptor 9.
    const [temp, claimed, half] = plantLeftovers();
    // --no-fork: the lock's holder is this very process (no child left holding it once it is killed).
    const holder = spawn(
      'flock',
      ['--no-fork', '-x', runDir(HOST), 'sh', '-c', 'echo held; exec sleep 120'],
      {
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    const ended = new Promise((resolve) => holder.once('exit', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout.once('data', () => resolve());
        holder.once('exit', (code) => reject(new Error(`flock exited ${code}`)));
      });

      // Act: a probe that wants a key, while the lock is held (it waits LOCK_SECONDS, 10 s, for it).
      const busy = await probe(HOST, 'run-busy');

      // Assess: no key, host-busy, and nothing swept: the token's temp file outlives this run.
      expect(busy.stdout).toMatch(/^key error=host-busy$/m);
      for (const path of [temp, claimed, half]) expect(existsSync(path as string), path).toBe(true);
    } finally {
      holder.kill('SIGKILL');
      await ended;
    }

    // Act: the next probe (a dry run's), the lock free again.
    const next = await step(HOST, 'probe', probeEnv('run-after-busy', 'none'));

    // Assess: it swept.
    expect(parseProbeOutput(next.stdout).ok, next.stdout).toBe(true);
    for (const path of [temp, claimed, half]) expect(existsSync(path as string), path).toBe(false);
    expect(ground.fleet.strayTokenFiles(REGISTRATION_TOKEN)).toEqual({});
  });
});

/** Puts back a config a swapping spy left aside when its step ended (a real owner would, eventually). */
function restoreAside(config: string): void {
  const aside = `${config}.aside`;
  if (!existsSync(aside)) return;
  rmSync(config, { force: true });
  renameSync(aside, config);
}
