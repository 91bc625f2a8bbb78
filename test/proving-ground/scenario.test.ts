import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadScenario, parseScenario, ScenarioError } from './scenario.ts';

const TOKEN = 'MjAyNzk0MmUtZjQzMS00NDZlLWFkODMtOGU2OWVmMzk3MGQx\n';

/** The problems parseScenario reports for `input` (fails the test if it accepts it). */
function problemsOf(input: unknown): readonly string[] {
  try {
    parseScenario(input, 'test.json');
  } catch (error) {
    expect(error).toBeInstanceOf(ScenarioError);
    return (error as ScenarioError).problems;
  }
  throw new Error('the scenario was accepted');
}

const host = (extra: Record<string, unknown> = {}) => ({
  id: 'i-0a1b2c3d4e5f60718',
  components: { agent: { token: 'valid' } },
  ...extra,
});

describe('parseScenario', () => {
  it('fills in every default for a minimal scenario', () => {
    // Prepare
    const input = { registrationToken: TOKEN, hosts: [host()] };

    // Act
    const scenario = parseScenario(input, 'minimal.json');

    // Assess
    expect(scenario).toEqual({
      kasm: { healthy: true, tokenLifetimeSeconds: 120, gracePeriodSeconds: 60, heartbeatSeconds: 1 },
      registrationToken: TOKEN,
      hosts: [
        {
          id: 'i-0a1b2c3d4e5f60718',
          platform: 'Linux',
          online: true,
          managed: true,
          opensslMissing: false,
          components: { agent: { token: 'valid', running: true, readOnly: false } },
          state: 'running',
          agentVersion: '3.3.2746.0',
        },
      ],
      faults: { throttleRate: 0, serverErrorRate: 0, throttle: {}, consistencyDelayMs: 1000, seed: 1 },
      hostModel: 'scripts',
      awsTiming: false,
    });
  });

  it('reads the fields for fleets of thousands, and refuses what the host model does not cover', () => {
    // Prepare
    const input = { registrationToken: TOKEN, hostModel: 'modelled', awsTiming: true, hosts: [host()] };
    const windows = {
      id: 'i-0a1b2c3d4e5f60719',
      platform: 'Windows',
      components: { windows: { token: 'valid' } },
    };
    const race = { id: 'i-0a1b2c3d4e5f6071a', components: { agent: { token: 'expired', trap: 'race' } } };

    // Act
    const scenario = parseScenario(input, 'big.json');
    const refused = problemsOf({ ...input, hosts: [host(), windows, race] });
    const badValues = problemsOf({
      registrationToken: TOKEN,
      hostModel: 'fast',
      awsTiming: 'yes',
      hosts: [],
    });

    // Assess
    expect(scenario).toMatchObject({ hostModel: 'modelled', awsTiming: true });
    expect(refused).toEqual([
      'hosts[1].platform: hostModel "modelled" covers Linux hosts only; use "scripts"',
      'hosts[2].components.agent.trap: the "race" trap needs a real host: use hostModel "scripts"',
    ]);
    expect(badValues).toEqual([
      'hostModel: expected one of scripts|modelled|agent, got "fast"',
      'awsTiming: expected true or false, got "yes"',
    ]);
  });

  it('reads the host fields for real-world behaviour: state, start and offline times, agent version', () => {
    // Prepare
    const input = {
      registrationToken: TOKEN,
      hosts: [
        host({ id: 'i-00000001', state: 'terminated' }),
        host({ id: 'i-00000002', startsAfterSeconds: 5, agentVersion: '3.2.582.0' }),
        host({ id: 'i-00000003', goesOfflineAfterSeconds: 2.5 }),
      ],
      faults: { throttle: { SendCommand: { ratePerSecond: 2, burst: 5 } }, consistencyDelayMs: 0, seed: 7 },
    };

    // Act
    const scenario = parseScenario(input, 'timing.json');

    // Assess
    expect(
      scenario.hosts.map((h) => [h.state, h.startsAfterSeconds, h.goesOfflineAfterSeconds, h.agentVersion]),
    ).toEqual([
      ['terminated', undefined, undefined, '3.3.2746.0'],
      ['stopped', 5, undefined, '3.2.582.0'],
      ['running', undefined, 2.5, '3.3.2746.0'],
    ]);
    expect(scenario.faults).toEqual({
      throttleRate: 0,
      serverErrorRate: 0,
      throttle: { SendCommand: { ratePerSecond: 2, burst: 5 } },
      consistencyDelayMs: 0,
      seed: 7,
    });
  });

  it('names every invalid host timing and fault field by its JSON path', () => {
    // Prepare
    const input = {
      registrationToken: TOKEN,
      hosts: [
        host({ id: 'i-00000001', state: 'paused', agentVersion: 'latest' }),
        host({ id: 'i-00000002', state: 'stopped', startsAfterSeconds: 3, goesOfflineAfterSeconds: -1 }),
      ],
      faults: {
        throttle: {
          'send-command': { ratePerSecond: 1, burst: 1 },
          SendCommand: { ratePerSecond: 0, burst: 1.5 },
        },
        consistencyDelayMs: 'soon',
        seed: 1.5,
      },
    };

    // Act
    const problems = problemsOf(input);

    // Assess
    expect(problems).toEqual([
      'hosts[0].state: expected one of running|stopped|terminated, got "paused"',
      'hosts[0].agentVersion: expected an SSM Agent version such as "3.3.2746.0", got "latest"',
      'hosts[1].goesOfflineAfterSeconds: expected a number of seconds between 0 and 86400, got -1',
      'hosts[1].startsAfterSeconds: a host that starts later is stopped until then by itself; remove state "stopped"',
      'hosts[1].goesOfflineAfterSeconds: needs a running host, but state is "stopped"',
      'faults.throttle.send-command: expected an AWS operation name such as "SendCommand" as the key',
      'faults.throttle.SendCommand.ratePerSecond: expected a number of calls per second greater than 0 and at most 10000, got 0',
      'faults.throttle.SendCommand.burst: expected a whole number of calls between 1 and 100000, got 1.5',
      'faults.consistencyDelayMs: expected a number of milliseconds between 0 and 60000, got "soon"',
      'faults.seed: expected an integer between 0 and 4294967295, got 1.5',
    ]);
  });

  it('keeps the values a full scenario gives, including a null registration token and a Windows host', () => {
    // Prepare
    const input = {
      description: 'everything set',
      kasm: { healthy: false, tokenLifetimeSeconds: 30, gracePeriodSeconds: 10, heartbeatSeconds: 0.5 },
      registrationToken: null,
      hosts: [
        host({ platform: 'Linux', online: false, managed: false, opensslMissing: true }),
        {
          id: 'mi-0123456789abcdef0',
          platform: 'Windows',
          components: { windows: { token: 'expired', running: false } },
        },
        { id: 'i-0123abcd', components: { guac: { token: 'garbage', readOnly: true } } },
      ],
      faults: { throttleRate: 0.2, serverErrorRate: 0.1 },
    };

    // Act
    const scenario = parseScenario(input, 'full.json');

    // Assess
    expect(scenario.description).toBe('everything set');
    expect(scenario.kasm).toEqual(input.kasm);
    expect(scenario.registrationToken).toBeNull();
    expect(scenario.hosts[0]).toMatchObject({ online: false, managed: false, opensslMissing: true });
    expect(scenario.hosts[1]?.components.windows).toEqual({
      token: 'expired',
      running: false,
      readOnly: false,
    });
    expect(scenario.hosts[2]?.components.guac).toEqual({ token: 'garbage', running: true, readOnly: true });
    expect(scenario.faults).toMatchObject({ throttleRate: 0.2, serverErrorRate: 0.1 });
  });

  it('names the path, the accepted values and the bad value of an unknown token state', () => {
    // Prepare
    const hosts = [
      host({ id: 'i-00000000' }),
      host({ id: 'i-00000001' }),
      host({ id: 'i-00000002' }),
      host({ id: 'i-00000003', components: { agent: { token: 'bogus' } } }),
    ];

    // Act
    const problems = problemsOf({ registrationToken: TOKEN, hosts });

    // Assess
    expect(problems).toEqual([
      'hosts[3].components.agent.token: expected one of valid|expiring|in-grace|expired|missing|garbage, got "bogus"',
    ]);
  });

  it('ignores unknown fields at every level and warns about each with the known fields', () => {
    // Prepare
    const input = {
      registrationToken: TOKEN,
      colour: 'blue',
      kasm: { healthy: true, lifetime: 5 },
      hosts: [host({ region: 'eu-west-1', components: { agent: { token: 'valid', restart: true } } })],
      faults: { latency: 3 },
    };

    // Act
    const scenario = parseScenario(input, 'annotated.json');

    // Assess
    expect(scenario.hosts[0]?.components.agent).toEqual({ token: 'valid', running: true, readOnly: false });
    expect(scenario.warnings).toEqual([
      'colour: unknown field, ignored (known: description, kasm, registrationToken, hosts, faults, hostModel, awsTiming)',
      'kasm.lifetime: unknown field, ignored (known: healthy, tokenLifetimeSeconds, gracePeriodSeconds, heartbeatSeconds)',
      'hosts[0].region: unknown field, ignored (known: id, platform, online, managed, opensslMissing, components, state, startsAfterSeconds, goesOfflineAfterSeconds, agentVersion)',
      'hosts[0].components.agent.restart: unknown field, ignored (known: token, running, readOnly, trap)',
      'faults.latency: unknown field, ignored (known: throttleRate, serverErrorRate, throttle, consistencyDelayMs, seed)',
    ]);
  });

  it('warns that opensslMissing has no effect on a Windows host', () => {
    const scenario = parseScenario(
      { registrationToken: TOKEN, hosts: [{ id: 'i-00000002', platform: 'Windows', opensslMissing: true }] },
      'windows.json',
    );
    expect(scenario.warnings).toEqual([
      'hosts[0].opensslMissing: has no effect on a Windows host (only Linux hosts use openssl)',
    ]);
  });

  it('still rejects a bad value next to an unknown field', () => {
    expect(problemsOf({ registrationToken: TOKEN, note: 'x', hosts: [host({ online: 'yes' })] })).toEqual([
      'hosts[0].online: expected true or false, got "yes"',
    ]);
  });

  it('rejects malformed and duplicate instance ids, saying what an id looks like', () => {
    // Prepare
    const hosts = [
      host({ id: 'i-0a1b2c3d4e5f60718' }),
      host({ id: 'i-xyz' }),
      host({ id: 'mi-0123abcd' }),
      host({ id: 'i-0A1B2C3D' }),
      host({ id: 'i-0a1b2c3d4e5f60718' }),
      { components: {} },
    ];

    // Act
    const problems = problemsOf({ registrationToken: TOKEN, hosts });

    // Assess
    const expectation = 'expected "i-" followed by 8 or 17 lowercase hex digits, or "mi-" followed by 17';
    expect(problems).toEqual([
      `hosts[1].id: ${expectation}, got "i-xyz"`,
      `hosts[2].id: ${expectation}, got "mi-0123abcd"`,
      `hosts[3].id: ${expectation}, got "i-0A1B2C3D"`,
      'hosts[4].id: duplicate of hosts[0].id ("i-0a1b2c3d4e5f60718")',
      `hosts[5].id: required: ${expectation}, got nothing`,
    ]);
  });

  it('accepts the windows component only on Windows hosts and Linux components only on Linux hosts', () => {
    // Prepare
    const hosts = [
      host({ components: { windows: { token: 'valid' }, kasm_proxy: { token: 'valid' } } }),
      { id: 'i-00000001', platform: 'Windows', components: { agent: { token: 'valid' } } },
      { id: 'i-00000003', platform: 'macOS' },
    ];

    // Act
    const problems = problemsOf({ registrationToken: TOKEN, hosts });

    // Assess
    expect(problems).toEqual([
      'hosts[0].components.windows: the windows component exists only on Windows hosts (this host is Linux)',
      'hosts[0].components.kasm_proxy: unknown component (Linux hosts have agent, guac, rdp_gateway, rdp_https_gateway)',
      'hosts[1].components.agent: a Linux component, but this host is Windows (Windows hosts have windows)',
      'hosts[2].platform: expected one of Linux|Windows, got "macOS"',
    ]);
  });

  it('collects every wrongly typed or out-of-range value in one error', () => {
    // Prepare
    const input = {
      registrationToken: 42,
      kasm: { healthy: 'yes', tokenLifetimeSeconds: 0, gracePeriodSeconds: -1, heartbeatSeconds: 'fast' },
      hosts: [host({ online: 'true', components: { guac: {} } })],
      faults: { throttleRate: 0.7, serverErrorRate: 1.5 },
    };

    // Act
    const problems = problemsOf(input);

    // Assess
    expect(problems).toEqual([
      'kasm.healthy: expected true or false, got "yes"',
      'kasm.tokenLifetimeSeconds: expected a number of seconds of at least 1, got 0',
      'kasm.gracePeriodSeconds: expected a number of seconds of at least 0, got -1',
      'kasm.heartbeatSeconds: expected a number of seconds greater than 0 and at most 3600, got "fast"',
      'registrationToken: expected a string or null, got 42',
      'hosts[0].online: expected true or false, got "true"',
      'hosts[0].components.guac.token: required: expected one of valid|expiring|in-grace|expired|missing|garbage',
      'faults.serverErrorRate: expected a share between 0 and 1, got 1.5',
    ]);
  });

  it('requires the registration token and the host list, and an in-grace token needs a grace period', () => {
    // Prepare
    const input = { kasm: { gracePeriodSeconds: 0 } };
    const withGraceZero = {
      registrationToken: TOKEN,
      kasm: { gracePeriodSeconds: 0 },
      hosts: [host({ components: { agent: { token: 'in-grace' } } })],
    };

    // Act
    const missing = problemsOf(input);
    const graceless = problemsOf(withGraceZero);

    // Assess
    expect(missing).toEqual([
      'registrationToken: required: the secret value as stored (a string), or null when the secret does not exist',
      'hosts: required: expected an array of hosts, got nothing',
    ]);
    expect(graceless).toEqual([
      'hosts[0].components.agent.token: "in-grace" needs kasm.gracePeriodSeconds greater than 0',
    ]);
  });

  it('puts the source name and every problem in the error message', () => {
    // Prepare
    const input = { registrationToken: TOKEN, hosts: 'none', faults: { throttleRate: 2 } };

    // Act
    const act = () => parseScenario(input, 'scenarios/broken.json');

    // Assess
    expect(act).toThrow(
      'Scenario scenarios/broken.json is invalid:\n' +
        '  - hosts: required: expected an array of hosts, got "none"\n' +
        '  - faults.throttleRate: expected a share between 0 and 1, got 2',
    );
  });

  it('rejects a top level that is not an object', () => {
    // Prepare
    const input = [1, 2];

    // Act
    const problems = problemsOf(input);

    // Assess
    expect(problems).toEqual(['(top level): expected an object, got an array']);
  });
});

describe('loadScenario', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ktr-pg-scenario-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads and validates a scenario file', () => {
    // Prepare
    const file = join(dir, 'ok.json');
    writeFileSync(file, JSON.stringify({ registrationToken: TOKEN, hosts: [host()] }));

    // Act
    const scenario = loadScenario(file);

    // Assess
    expect(scenario.hosts.map((h) => h.id)).toEqual(['i-0a1b2c3d4e5f60718']);
  });

  it('says that a file is not valid JSON, naming the file', () => {
    // Prepare
    const file = join(dir, 'bad.json');
    writeFileSync(file, '{"hosts": [}');

    // Act
    const act = () => loadScenario(file);

    // Assess
    expect(act).toThrow(ScenarioError);
    expect(act).toThrow(new RegExp(`^Scenario ${file} is invalid:\\n  - not valid JSON: `));
  });

  it('says that a file cannot be read', () => {
    // Prepare
    const file = join(dir, 'absent.json');

    // Act
    const act = () => loadScenario(file);

    // Assess
    expect(act).toThrow(/cannot read the file: ENOENT/);
  });
});
