import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GENERATED_FILES, withGeneratedBlocks } from '../../infra/settings-docs.ts';

describe('the generated parts of docs/', () => {
  it.each(Object.entries(GENERATED_FILES))(
    '%s holds the blocks the code declares (run `npm run docs:settings` after changing a setting, metric or alarm)',
    (file, names) => {
      // Prepare
      const text = readFileSync(file, 'utf8');

      // Act
      const regenerated = withGeneratedBlocks(text, names);

      // Assess
      expect(text).toBe(regenerated);
    },
  );
});
