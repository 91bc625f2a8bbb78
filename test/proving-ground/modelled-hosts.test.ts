/**
 * hostModel "modelled" stands in for the real scripts only as long as it answers like them: the same
 * scenario run both ways must give the same report and the same fleet state.
 */
import { describe, expect, it } from 'vitest';
import type { HandlerReport } from '../../lambda/handler.ts';
import { startProvingGround } from './proving-ground.ts';
import { parseScenario } from './scenario.ts';
import { runOnce, type SimulationResult } from './simulation.ts';

const TOKEN = 'MjAyNzk0MmUtZjQzMS00NDZlLWFkODMtOGU2OWVmMzk3MGQx\n';
const id = (n: number) => `i-0a1b2c3d4e5f607${n.toString(16).padStart(2, '0')}`;

/** Every token state, a stopped component, a read-only directory, traps, openssl missing, an old agent. */
const HOSTS = [
  { id: id(1), components: { agent: { token: 'expired' }, guac: { token: 'valid' } } },
  {
    id: id(2),
    components: {
      agent: { token: 'in-grace' },
      guac: { token: 'expiring' },
      rdp_gateway: { token: 'missing' },
      rdp_https_gateway: { token: 'garbage' },
    },
  },
  {
    id: id(3),
    components: { agent: { token: 'expired', running: false }, guac: { token: 'expired', readOnly: true } },
  },
  { id: id(4), agentVersion: '3.2.0.0', components: { agent: { token: 'expired' } } },
  { id: id(5), opensslMissing: true, components: { agent: { token: 'expired' } } },
  {
    id: id(6),
    components: { agent: { token: 'expired', trap: 'symlink' }, guac: { token: 'expired', trap: 'dir' } },
  },
  {
    id: id(7),
    components: {
      agent: { token: 'expired' },
      guac: { token: 'expired' },
      rdp_gateway: { token: 'expired' },
      rdp_https_gateway: { token: 'expired' },
    },
  },
];

/** A 6 s heartbeat by default: no component refreshes an in-grace or expiring token before the probe looks. */
async function run(
  hostModel: 'scripts' | 'modelled',
  hosts: readonly object[] = HOSTS,
  heartbeatSeconds = 6,
): Promise<SimulationResult> {
  const scenario = parseScenario(
    { hostModel, kasm: { heartbeatSeconds }, registrationToken: TOKEN, hosts },
    `${hostModel} equivalence`,
  );
  const ground = await startProvingGround(scenario);
  try {
    return await runOnce(ground, {});
  } finally {
    await ground.stop();
  }
}

/** What must agree: statuses, reasons (numbers masked), totals, the summary, and the fleet afterwards. */
function essentials(result: SimulationResult) {
  const report = result.report as HandlerReport;
  const mask = (text: string | undefined) => text?.replace(/\d+/g, 'N');
  return {
    ok: report.ok,
    kasmApi: report.kasmApi,
    summary: mask(report.summary),
    totals: report.totals,
    errors: report.errors.map(mask),
    hosts: report.hosts.map((h) => ({
      instanceId: h.instanceId,
      agentVersion: (h as { agentVersion?: string }).agentVersion,
      components: h.components.map((c) => ({
        name: c.name,
        status: c.status,
        reason: mask((c as { reason?: string }).reason),
      })),
    })),
    fleet: result.fleet,
  };
}

describe('modelled hosts', () => {
  it('give the same report and fleet state as hosts running the real scripts, for every token state', async () => {
    const scripts = await run('scripts');
    const modelled = await run('modelled');
    expect(essentials(modelled)).toEqual(essentials(scripts));
    // The scenario reaches the interesting outcomes, so the comparison means something: the old agent's
    // host (id 4, parameters spliced into the script) is among the six recovered.
    expect(scripts.report.totals).toMatchObject({ recovered: 6, 'needs-redeploy': 1 });
    expect(scripts.report.hosts.find((h) => h.instanceId === id(4))).toMatchObject({
      agentVersion: '3.2.0.0',
    });
    expect(modelled.timeScale).toBe(5);
  }, 180_000);

  it('recover a fleet of 2,000 hosts, 30 % locked out, in one run within a test-sized time', async () => {
    const hosts = Array.from({ length: 2000 }, (_, i) => ({
      id: `i-0b${(i + 1).toString(16).padStart(15, '0')}`,
      components: i % 10 < 3 ? { agent: { token: 'expired' } } : { agent: { token: 'valid' } },
    }));
    const started = Date.now();
    const result = await run('modelled', hosts, 1);
    expect(result.report.totals).toEqual({ recovered: 600, healthy: 1400 });
    expect(Object.values(result.fleet).every((h) => h.agent?.tokenValid === true)).toBe(true);
    expect(Date.now() - started).toBeLessThan(120_000);
  }, 180_000);
});
