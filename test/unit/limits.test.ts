/** Whether a managed node's SSM Agent is new enough to run the documents (ENV_VAR interpolation). */
import { describe, expect, it } from 'vitest';
import { agentVersionAtLeast } from '../../shared/limits.ts';

describe('agentVersionAtLeast', () => {
  it.each<[string, boolean]>([
    ['3.3.2746.0', true],
    ['3.3.2746.1', true],
    ['3.3.3000.0', true],
    ['3.4.0.0', true],
    ['10.0.0.0', true],
    ['3.3.2746', true],
    ['3.3.2745.999', false],
    ['3.2.9999.0', false],
    ['2.3.1319.0', false],
    ['3.3', false],
  ])(
    'compares version %s with the default minimum 3.3.2746.0 part by part as numbers, missing parts as zero: %s',
    (version, usable) => {
      expect(agentVersionAtLeast(version)).toBe(usable);
    },
  );
  it.each(['', 'latest', '4.0.0-beta', ' 4.0.0', '4.0.0 ', '4..0'])(
    'does not trust a version that is not plain dotted numbers (%j), however new its numbers',
    (version) => {
      expect(agentVersionAtLeast(version)).toBe(false);
    },
  );
  it('compares against another minimum when given one', () => {
    expect(agentVersionAtLeast('3.2.0.0', '3.2')).toBe(true);
    expect(agentVersionAtLeast('3.1.9.0', '3.2')).toBe(false);
  });
});
