import { describe, expect, it } from 'vitest';
import { readPrefix, truncateOutput } from './output.ts';

const ERROR_TITLE = '\n----------ERROR-------\n';

describe('Run Command output cutting (ported from the SSM Agent)', () => {
  it('joins stdout and stderr with the ERROR title when both fit, and shows stdout alone when stderr is empty', () => {
    // Prepare
    const stdout = 'hello\n';
    const stderr = 'oops\n';

    // Act
    const both = truncateOutput(stdout, stderr);
    const alone = truncateOutput(stdout, '');

    // Assess
    expect(both).toBe(`hello\n${ERROR_TITLE}oops\n`);
    expect(alone).toBe('hello\n');
  });

  it('cuts a long stdout to fit 2,500 characters and marks it, keeping a short stderr whole', () => {
    // Prepare
    const stdout = 'o'.repeat(3000);
    const stderr = 'e'.repeat(100);

    // Act
    const out = truncateOutput(stdout, stderr);

    // Assess
    expect(out).toHaveLength(2500);
    expect(out.endsWith(`\n---Output truncated---${ERROR_TITLE}${stderr}`)).toBe(true);
    expect(out.startsWith(`${'o'.repeat(2353)}\n`)).toBe(true);
  });

  it('cuts a long stderr when stdout is short, and halves both when both are long', () => {
    // Prepare
    const short = 's'.repeat(10);
    const long = 'x'.repeat(5000);

    // Act
    const errCut = truncateOutput(short, long);
    const bothCut = truncateOutput(long, long);

    // Assess
    expect(errCut).toHaveLength(2500);
    expect(errCut.startsWith(`${short}${ERROR_TITLE}`)).toBe(true);
    expect(errCut.endsWith('\n---Error truncated----')).toBe(true);
    expect(bothCut).toHaveLength(2500);
    expect(bothCut.startsWith(`${'x'.repeat(1215)}\n`)).toBe(true);
    expect(bothCut).toContain(`\n---Output truncated---${ERROR_TITLE}`);
    expect(bothCut.endsWith('\n---Error truncated----')).toBe(true);
  });

  it('cuts a stream that reaches its limit to exactly the limit, ending in "--output truncated--"', () => {
    // Prepare
    const under = 'a'.repeat(23999);
    const over = 'a'.repeat(30000);

    // Act
    const kept = readPrefix(under, 24000);
    const cut = readPrefix(over, 24000);

    // Assess
    expect(kept).toBe(under);
    expect(cut).toHaveLength(24000);
    expect(cut.endsWith('a--output truncated--')).toBe(true);
  });
});
