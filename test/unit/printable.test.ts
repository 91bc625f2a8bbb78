import { describe, expect, it } from 'vitest';
import { printable } from '../../shared/printable.ts';

describe('printable', () => {
  it('turns every control and invisible format character into a visible escape, and leaves the rest as it is', () => {
    // Prepare: a terminal escape (clear screen, set title), a bell, C1 CSI, DEL, a bidirectional
    // override, a zero-width space and a byte order mark, between plain and non-ASCII text.
    const text = 'a\u001b[2J\u001b]0;pwned\u0007b\u009b31m\u007fc\u202egnp.exe\u200bd\ufeffé ok';

    // Act
    const shown = printable(text);

    // Assess
    expect(shown).toBe(
      'a\\u{1b}[2J\\u{1b}]0;pwned\\u{7}b\\u{9b}31m\\u{7f}c\\u{202e}gnp.exe\\u{200b}d\\u{feff}é ok',
    );
    expect([...shown].filter((c) => c < ' ' || (c >= '\u007f' && c <= '\u009f'))).toEqual([]);
  });

  it('keeps ordinary text, including spaces and punctuation, unchanged', () => {
    expect(printable('3.2.0.0 (Linux) ok: 100% done')).toBe('3.2.0.0 (Linux) ok: 100% done');
  });
});
