import { describe, expect, it } from 'vitest';
import { tokenFromSecretString } from '../../lambda/registration-secret.ts';

const TOKEN = 'MjAyNzk0MmUtZjQzMS00NDZlLWFkODMtOGU2OWVmMzk3MGQx';

describe('tokenFromSecretString', () => {
  it('trims trailing whitespace and newlines', () => {
    expect(tokenFromSecretString(`${TOKEN}\n\n`, 's')).toEqual({ ok: true, token: TOKEN });
  });
  it('reads a named field of a JSON secret', () => {
    expect(tokenFromSecretString(JSON.stringify({ token: TOKEN }), 's', 'token')).toEqual({
      ok: true,
      token: TOKEN,
    });
  });
  it.each([
    ['', 'is empty'],
    ['  \n', 'is empty'],
    [`${TOKEN}\n${TOKEN}`, 'more than one line'],
    ['not a token!', 'characters'],
    ['A'.repeat(191), 'longer than 190 bytes'],
  ])('rejects %j with a sentence naming the secret', (value, problem) => {
    const read = tokenFromSecretString(value, 'kasm/reg');
    expect(read.ok).toBe(false);
    if (!read.ok) {
      expect(read.problem).toContain('"kasm/reg"');
      expect(read.problem).toContain(problem);
      if (value.trim().length > 0) expect(read.problem).not.toContain(value.trim().slice(0, 12));
    }
  });
  it('says when the JSON field is missing', () => {
    const read = tokenFromSecretString('{"other": 1}', 's', 'token');
    expect(read).toEqual({ ok: false, problem: 'The secret "s" has no string field "token".' });
  });
});
