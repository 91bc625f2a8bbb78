import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { README, withSettingsTables } from '../../infra/settings-docs.ts';

describe("README.md's settings tables", () => {
  it('are the ones shared/settings.ts declares (run `npm run docs:settings` after changing a setting)', () => {
    // Prepare
    const readme = readFileSync(README, 'utf8');

    // Act
    const regenerated = withSettingsTables(readme);

    // Assess
    expect(readme).toBe(regenerated);
  });
});
