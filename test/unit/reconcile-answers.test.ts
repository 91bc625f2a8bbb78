/**
 * The reconcile loop against an in-memory fleet whose answers to one step (observe, prepare or
 * the push) are changed: hosts that cannot be reached for the second probe, components gone
 * between probes, no sealing key or a bad one, pushes lost, failed, cut or partial. Each
 * component must end with the status and reason the runbook (docs/operating.md) explains.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { InvocationResult } from '../../lambda/fleet-api.ts';
import { runContext } from '../../lambda/reconcile.ts';
import { LEFT_FOR_NEXT_RUN } from '../../lambda/steps/context.ts';
import { prepare } from '../../lambda/steps/prepare.ts';
import { componentOf, ID, linuxNode, loopSetup, run, TOKEN } from './loop-fixture.ts';

type Step = 'observe' | 'prepare' | 'deliver';

function setup() {
  const { config, fleet, deps, expired } = loopSetup();
  /** The steps the fleet was asked to run, in order (by their command comment). */
  const steps: Step[] = [];
  /**
   * Changes what hosts answer to one step: `change` gets a host's usual result and returns
   * the one to answer instead (undefined: no result for the host at all).
   */
  const answer = (
    step: Step,
    change: (result: InvocationResult | undefined, id: string) => InvocationResult | undefined,
  ) => {
    const usual = fleet.runDocument.bind(fleet);
    fleet.runDocument = async (run) => {
      const results = await usual(run);
      if (run.comment.step !== step) return results;
      for (const id of run.instanceIds) {
        const changed = change(results.get(id), id);
        if (changed) results.set(id, changed);
        else results.delete(id);
      }
      return results;
    };
  };
  const recordSteps = fleet.runDocument.bind(fleet);
  fleet.runDocument = (run) => {
    steps.push(run.comment.step);
    return recordSteps(run);
  };
  /** Changes the lines of a host's output in the step's answer (undefined: leaves the line out). */
  const rewrite = (step: Step, lines: (line: string, id: string) => string | undefined) =>
    answer(step, (result, id) =>
      result?.kind === 'output'
        ? {
            ...result,
            output: result.output
              .split('\n')
              .map((line) => lines(line, id))
              .filter((l) => l !== undefined)
              .join('\n'),
          }
        : result,
    );
  return { config, fleet, deps, expired, answer, rewrite, steps };
}

/**
 * A host whose clock is two hours behind the function's: by its own reading no component is locked
 * out, so it makes no key while observed (KeyPair=auto), and the function probes it again to prepare.
 */
const BEHIND = { clockSkewSeconds: -7200 };

/** A key line the probe's pattern accepts but that is no DER public key. */
const BAD_KEY = `key spki=${'A'.repeat(392)}`;

describe('prepare: the second probe, with KeyPair=create, of a host that made no key while observed', () => {
  it('reports a host the second probe cannot reach as unreachable, and keeps what the first probe found of the rest', async () => {
    // Prepare
    const { fleet, deps, expired, answer, steps } = setup();
    fleet.add(ID(1), { agent: { token: expired() }, guac: {} }, BEHIND);
    answer('prepare', () => ({ kind: 'unreachable', detail: 'DeliveryTimedOut' }));

    // Act
    const report = await run({}, deps());

    // Assess
    expect(componentOf(report, ID(1), 'agent')).toStrictEqual({
      name: 'agent',
      status: 'unreachable',
      reason: 'the prepare command could not be delivered (DeliveryTimedOut)',
    });
    expect(componentOf(report, ID(1), 'guac')?.status).toBe('healthy');
    expect(steps).toStrictEqual(['observe', 'prepare']);
  });

  it.each<[string, InvocationResult | undefined, { status: string; reason: string }]>([
    [
      'no result',
      undefined,
      { status: 'failed', reason: 'the prepare command returned no result for this host' },
    ],
    [
      'a command given up on',
      { kind: 'failed', detail: LEFT_FOR_NEXT_RUN },
      { status: 'failed', reason: `prepare: ${LEFT_FOR_NEXT_RUN}` },
    ],
    [
      'output not understood from a script that failed',
      { kind: 'output', succeeded: false, output: 'bash: line 1: openssl: Permission denied' },
      {
        status: 'failed',
        reason:
          'the prepare output from this host was not understood (the script failed): output does not start with "ktr-probe v1"',
      },
    ],
    [
      'output not understood from a script that succeeded',
      { kind: 'output', succeeded: true, output: 'ktr-probe v1\nhost unseal=1 now=x\nend\n' },
      {
        status: 'failed',
        reason: 'the prepare output from this host was not understood: bad host clock field',
      },
    ],
  ])('fails the components to deliver when the second probe gives %s', async (_, result, expected) => {
    // Prepare
    const { fleet, deps, expired, answer, steps } = setup();
    fleet.add(ID(1), { agent: { token: expired() }, guac: {} }, BEHIND);
    answer('prepare', () => result);

    // Act
    const report = await run({}, deps());

    // Assess
    expect(componentOf(report, ID(1), 'agent')).toStrictEqual({ name: 'agent', ...expected });
    expect(componentOf(report, ID(1), 'guac')?.status).toBe('healthy');
    expect(steps).toStrictEqual(['observe', 'prepare']);
  });

  it('decides again from the second look: a component whose token is gone needs a redeploy, not a push', async () => {
    // Prepare
    const { fleet, deps, expired, rewrite, steps } = setup();
    fleet.add(ID(1), { agent: { token: expired() } }, BEHIND);
    rewrite('prepare', (line) =>
      line.startsWith('comp agent ') ? line.replace(/ token=\S+/, ' token=none') : line,
    );

    // Act
    const report = await run({}, deps());

    // Assess: no expiry to show, and the reason the runbook gives
    const agent = componentOf(report, ID(1), 'agent');
    expect(agent?.status).toBe('needs-redeploy');
    expect(agent?.reason).toContain('redeploy the component');
    expect(agent && 'tokenExpiresAt' in agent).toBe(false);
    expect(steps).toStrictEqual(['observe', 'prepare']);
  });

  it('fails a component that disappeared between the probes', async () => {
    // Prepare
    const { fleet, deps, expired, rewrite, steps } = setup();
    fleet.add(ID(1), { agent: { token: expired() }, guac: { token: expired() } }, BEHIND);
    rewrite('prepare', (line) => (line.startsWith('comp guac ') ? undefined : line));

    // Act
    const report = await run({}, deps());

    // Assess: the other component is still delivered to
    expect(componentOf(report, ID(1), 'guac')).toStrictEqual({
      name: 'guac',
      status: 'failed',
      reason: 'the component disappeared between probes',
    });
    expect(componentOf(report, ID(1), 'agent')?.status).toBe('recovered');
    expect(steps).toStrictEqual(['observe', 'prepare', 'deliver']);
  });

  it.each([
    [
      'openssl gone since the first probe',
      (line: string) => line.replace('unseal=1', 'unseal=0'),
      'openssl is not installed on the host, so the registration token cannot be sealed to it',
    ],
    [
      'a key the host could not make',
      (line: string) => (line.startsWith('key ') ? 'key error=keygen-failed' : line),
      'the host could not make a sealing key (keygen-failed)',
    ],
    [
      'no key line at all',
      (line: string) => (line.startsWith('key ') ? undefined : line),
      'the host could not make a sealing key (no key returned)',
    ],
    [
      'a key that is no DER public key',
      (line: string) => (line.startsWith('key ') ? BAD_KEY : line),
      'the host returned a public key that does not parse',
    ],
  ])('fails the components to deliver, and pushes nothing, with %s', async (_, lines, reason) => {
    // Prepare
    const { fleet, deps, expired, rewrite, steps } = setup();
    fleet.add(ID(1), { agent: { token: expired() }, guac: {} }, BEHIND);
    rewrite('prepare', lines);

    // Act
    const report = await run({}, deps());

    // Assess
    expect(componentOf(report, ID(1), 'agent')).toStrictEqual({ name: 'agent', status: 'failed', reason });
    expect(componentOf(report, ID(1), 'guac')?.status).toBe('healthy');
    expect(steps).toStrictEqual(['observe', 'prepare']);
  });

  it('fails at once a host whose key made while observed does not parse, with no second probe', async () => {
    // Prepare
    const { fleet, deps, expired, rewrite, steps } = setup();
    fleet.add(ID(1), { agent: { token: expired() } });
    fleet.add(ID(2), { agent: { token: expired() } });
    rewrite('observe', (line, id) => (id === ID(1) && line.startsWith('key ') ? BAD_KEY : line));

    // Act
    const report = await run({}, deps());

    // Assess: host 2 is delivered to as usual
    expect(componentOf(report, ID(1), 'agent')).toStrictEqual({
      name: 'agent',
      status: 'failed',
      reason: 'the host returned a public key that does not parse',
    });
    expect(componentOf(report, ID(2), 'agent')?.status).toBe('recovered');
    expect(steps).toStrictEqual(['observe', 'deliver']);
    expect(fleet.runs.find((r) => r.role === 'push')?.instanceIds).toStrictEqual([ID(2)]);
  });

  it('leaves hosts still to be probed for the next run once the deadline has passed, but seals to keys already made', async () => {
    // Prepare: host 1 made its key while observed; host 2 must be probed again
    const { config, fleet } = setup();
    const [one, two] = [linuxNode(1), linuxNode(2)];
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const spki = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    const now = Date.now();

    // Act
    const report = (key?: string) => ({
      hostEpochSeconds: Math.floor(now / 1000),
      canUnseal: true,
      sealingKey: key ? { kind: 'ready' as const, spkiDerBase64: key } : null,
      components: [],
    });
    const prepared = await prepare(
      {
        settled: [],
        deliveries: [
          { node: one, components: ['agent'], report: report(spki) },
          { node: two, components: ['agent', 'guac'], report: report() },
        ],
      },
      runContext(
        {
          config,
          fleet,
          runId: 'run-1',
          now: () => now,
          deadlineAt: now - 1,
          log: { info: () => undefined, warn: () => undefined },
          readSecret: async () => ({ ok: true, token: TOKEN }),
          checkKasm: async () => ({ health: 'healthy' }),
        },
        'fleet',
      ),
    );

    // Assess
    expect(prepared.sealed.map((s) => [s.node.instanceId, s.components])).toStrictEqual([[ID(1), ['agent']]]);
    expect(prepared.settled).toStrictEqual([
      {
        node: two,
        components: [
          { name: 'agent', status: 'failed', reason: LEFT_FOR_NEXT_RUN },
          { name: 'guac', status: 'failed', reason: LEFT_FOR_NEXT_RUN },
        ],
      },
    ]);
    expect(fleet.runs).toStrictEqual([]);
  });
});

describe('deliver: what the push answered', () => {
  it.each<[string, InvocationResult | undefined, { status: string; reason: string }]>([
    [
      'a push never delivered as unreachable',
      { kind: 'unreachable', detail: 'DeliveryTimedOut' },
      { status: 'unreachable', reason: 'the push could not be delivered (DeliveryTimedOut)' },
    ],
    [
      'a push given up on as failed',
      { kind: 'failed', detail: 'the push had not finished on the host when the run had to stop' },
      {
        status: 'failed',
        reason: 'the push failed (the push had not finished on the host when the run had to stop)',
      },
    ],
    [
      'a push without a result as failed',
      undefined,
      { status: 'failed', reason: 'the push returned no result' },
    ],
    [
      'push output without its end line as failed',
      { kind: 'output', succeeded: false, output: 'ktr-push v1\nhost result=unsealed' },
      {
        status: 'failed',
        reason: 'the push output was not understood: output is incomplete (no "end" line)',
      },
    ],
  ])('reports %s, for every component it carried', async (_, result, expected) => {
    // Prepare
    const { fleet, deps, expired, answer } = setup();
    fleet.add(ID(1), { agent: { token: expired() }, guac: { token: expired() } });
    answer('deliver', () => result);

    // Act
    const report = await run({}, deps());

    // Assess
    expect(componentOf(report, ID(1), 'agent')).toStrictEqual({ name: 'agent', ...expected });
    expect(componentOf(report, ID(1), 'guac')).toStrictEqual({ name: 'guac', ...expected });
    expect(report.ok).toBe(true);
  });

  it('fails a component the push did not report on, and judges the ones it did', async () => {
    // Prepare
    const { fleet, deps, expired, rewrite } = setup();
    fleet.add(ID(1), { agent: { token: expired() }, guac: { token: expired() } });
    rewrite('deliver', (line) => (line.startsWith('comp guac ') ? undefined : line));

    // Act
    const report = await run({}, deps());

    // Assess
    expect(componentOf(report, ID(1), 'guac')).toStrictEqual({
      name: 'guac',
      status: 'failed',
      reason: 'the push did not report on this component',
    });
    expect(componentOf(report, ID(1), 'agent')?.status).toBe('recovered');
  });

  it("explains a component the push failed on in the runbook's words", async () => {
    // Prepare
    const { fleet, deps, expired, rewrite } = setup();
    fleet.add(ID(1), { agent: { token: expired() } });
    rewrite('deliver', (line) =>
      line.startsWith('comp agent ') ? 'comp agent push=failed reason=write-denied' : line,
    );

    // Act
    const report = await run({}, deps());

    // Assess
    expect(componentOf(report, ID(1), 'agent')).toStrictEqual({
      name: 'agent',
      status: 'failed',
      reason: 'the config directory is not writable, so registration_token.txt could not be placed',
    });
  });

  it('reports a file still waiting after a restart as pending, restarted, with the token it still holds', async () => {
    // Prepare: the component does not read the file; the push says it restarted the service
    const { fleet, deps, expired, rewrite } = setup();
    const expiry = expired();
    fleet.add(ID(1), { agent: { token: expiry, consumes: false } });
    rewrite('deliver', (line) => (line.startsWith('comp agent ') ? `${line} restarted=true` : line));

    // Act
    const report = await run({}, deps());

    // Assess
    expect(componentOf(report, ID(1), 'agent')).toStrictEqual({
      name: 'agent',
      status: 'pending',
      tokenExpiresAt: new Date(expiry * 1000).toISOString(),
      reason: 'registration_token.txt delivered, not yet consumed',
      restarted: true,
    });
  });

  it('fails a component that consumed the file but holds no token after, with no expiry to show', async () => {
    // Prepare
    const { fleet, deps, expired, rewrite } = setup();
    fleet.add(ID(1), { agent: { token: expired() } });
    rewrite('deliver', (line) => line.replace(/ token=\S+/, ' token=none'));

    // Act
    const report = await run({}, deps());

    // Assess
    expect(componentOf(report, ID(1), 'agent')).toStrictEqual({
      name: 'agent',
      status: 'failed',
      reason: 'the file was consumed but the component holds no valid token; check the component log',
    });
  });
});
