import { describe, expect, it } from 'vitest';
import { checkKasmHealth } from '../../lambda/kasm-health.ts';

describe('checkKasmHealth with a Kasm CA file', () => {
  it('reports the API unhealthy, naming the file, when the CA file does not exist, instead of rejecting', async () => {
    // Prepare
    const caFile = '/nonexistent/kasm-ca.pem';

    // Act
    const result = await checkKasmHealth({ url: 'https://127.0.0.1:1', caFile, attempts: 1, timeoutMs: 200 });

    // Assess
    expect(result).toEqual({
      health: 'unhealthy',
      detail: 'the Kasm CA file /nonexistent/kasm-ca.pem cannot be read (ENOENT)',
    });
  });

  it('reports the API unhealthy when the CA path is a directory', async () => {
    // Act
    const result = await checkKasmHealth({ url: 'https://127.0.0.1:1', caFile: '/tmp', attempts: 1 });

    // Assess
    expect(result.health).toBe('unhealthy');
    expect(result.detail).toMatch(/CA file \/tmp cannot be read \(EISDIR\)/);
  });
});
