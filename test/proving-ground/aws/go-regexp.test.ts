/**
 * The proving ground's model of Go's regexp parser (ssm/go-regexp.ts) against Go itself: for every pattern
 * of a corpus (the documents' own, the Deliveries pattern the agent refused, and a pattern of each way Go
 * refuses one), the model must accept exactly what Go accepts and refuse with Go's own error text.
 */
import { describe, expect, it } from 'vitest';
import { PARAMETER_PATTERNS } from '../../../shared/documents/ssm-documents.ts';
import { checkPatterns, goGate } from '../../go/pattern-check.ts';
import { goRegexpError } from './ssm/go-regexp.ts';

const gate = goGate();
const itGo = it.skipIf(gate.skip);

const CORPUS: readonly string[] = [
  ...Object.values(PARAMETER_PATTERNS),
  // The push's Deliveries pattern before the fix: `{0,49}` around entries holding `{342}`.
  '^(?:i-[0-9a-f]{17}:[a-z_]{1,24}:[A-Za-z0-9+/]{342}==)(?: i-[0-9a-f]{17}:[a-z_]{1,24}:[A-Za-z0-9+/]{342}==){0,49}$',
  '^(?:a{1,342}){0,49}$',
  // Repeat counts: the limit, past it, min above max, nesting at and past the product of 1000.
  'a{1000}',
  'a{1001}',
  'a{2,1}',
  'a{1,1000}',
  'a{0,1001}',
  '(?:a{10}){100}',
  '(?:a{10}){101}',
  '(?:(?:a{2}){5}){100}',
  '(?:(?:a{2}){5}){101}',
  '(?:a{1000}){0}',
  '(?:a{1000})*',
  '(?:a{500}){2,}',
  '(?:a{500}){3,}',
  'a{100000000}',
  // Not repeats: `{` as a literal.
  'a{',
  'a{,5}',
  'a{01}',
  'a{1,x}',
  // Stacked and missing repetition operators.
  'a**',
  'a*?',
  'a*??',
  'a+*',
  'a{2}{3}',
  '*a',
  '(*a)',
  'a|*b',
  // Parentheses.
  'a)',
  '(a',
  '((a)',
  '(?:a|b|)',
  '()',
  '',
  // Perl group syntax: flags, named captures, lookarounds, backreferences.
  '(?i)abc',
  '(?i:a)b',
  '(?i-s:a)',
  '(?-:a)',
  '(?=a)',
  '(?!a)',
  '(?<=a)b',
  '(?<!a)b',
  '(?<name>a)',
  '(?P<name>a)',
  '(?P<na-me>a)',
  '(?P=name)',
  '(?>a)',
  '(?<name',
  // Escapes.
  '\\1',
  '(a)\\1',
  '\\8',
  '\\e',
  '\\Z',
  '\\C',
  '\\012',
  '\\0',
  '\\.\\-\\/\\_',
  '\\d\\w\\s\\D\\W\\S\\b\\B\\A\\z',
  '\\n\\t\\r\\f\\v\\a',
  'a\\',
  // Classes.
  '[a',
  '[z-a]',
  '[a-z0-9._-]',
  '[]a]',
  '[^]a]',
  '[\\d-z]',
  '[a-\\d]',
  '[\\]]',
  '[\\1]',
  '^[A-Za-z]:\\\\(?:[A-Za-z0-9 ._()-]{1,64})$',
];

describe("the proving ground's model of Go's regexp parser", () => {
  itGo('accepts and refuses exactly what Go does, with the error text Go gives', () => {
    // Act
    const go = checkPatterns(CORPUS.map((pattern, i) => ({ name: String(i), pattern, values: [] })));
    const model = CORPUS.map((pattern) => goRegexpError(pattern));

    // Assess
    expect(model).toEqual(go.map((r) => (r.compiles ? undefined : r.error)));
    // The corpus holds both kinds, so the comparison means something.
    expect(go.filter((r) => r.compiles).length).toBeGreaterThan(20);
    expect(go.filter((r) => !r.compiles).length).toBeGreaterThan(20);
  });

  it('refuses, to be safe, what it does not transcribe, saying so', () => {
    // Act
    const gaps = ['\\p{Greek}', '[[:alpha:]]', '\\Qa.b\\E', '\\x41'].map(goRegexpError);

    // Assess
    for (const gap of gaps) expect(gap).toMatch(/^the proving ground's model of Go's regexp does not cover /);
  });
});
