/**
 * The kinds of value a setting can take (shared/settings.ts declares which one each setting
 * has), and the one check both readers apply: the synth reads cdk.json values, the function
 * reads environment strings, and both report a wrong value with the same accepted range.
 */

/** A further check of a text value that passed its pattern; returns the problem, if any. */
export type TextCheck = (value: string) => string | undefined;

export interface IntegerRule {
  readonly type: 'integer';
  readonly min: number;
  readonly max: number;
}
export interface BooleanRule {
  readonly type: 'boolean';
}
export interface OneOfRule {
  readonly type: 'oneOf';
  readonly values: readonly number[];
  readonly why: string;
}
export interface TextRule {
  readonly type: 'text';
  readonly pattern: RegExp;
  readonly hint: string;
  /** A value starting with "arn:" is held to this pattern and hint instead. */
  readonly arn?: { readonly pattern: RegExp; readonly hint: string };
  readonly checks?: readonly TextCheck[];
}
export type Rule = IntegerRule | BooleanRule | OneOfRule | TextRule;

/** The type of a value that passed the rule: what a reader of the setting gets. */
export type RuleValue<R extends Rule> = R extends IntegerRule | OneOfRule
  ? number
  : R extends BooleanRule
    ? boolean
    : string;

export const integer = (min: number, max: number): IntegerRule => ({ type: 'integer', min, max });
export const boolean: BooleanRule = { type: 'boolean' };
export const oneOf = (values: readonly number[], why: string): OneOfRule => ({ type: 'oneOf', values, why });
export const text = (
  pattern: RegExp,
  hint: string,
  more: { arn?: { pattern: RegExp; hint: string }; checks?: readonly TextCheck[] } = {},
): TextRule => ({ type: 'text', pattern, hint, ...more });

/** What the rule accepts, as the messages and the README say it. */
export function accepted(rule: Rule, value?: unknown): string {
  switch (rule.type) {
    case 'integer':
      return `a whole number from ${rule.min} to ${rule.max}`;
    case 'boolean':
      return 'true or false';
    case 'oneOf':
      return `one of ${rule.values.join(', ')} (${rule.why})`;
    case 'text':
      return rule.arn && typeof value === 'string' && value.startsWith('arn:') ? rule.arn.hint : rule.hint;
  }
}

/**
 * What is wrong with a value: `expected` when it is not of the accepted form (the caller says
 * which form, and what it got), `problem` when a further check failed; undefined when it is fine.
 */
export type Verdict = { readonly expected: string } | { readonly problem: string } | undefined;

export function judge(rule: Rule, value: unknown): Verdict {
  const expected = { expected: accepted(rule, value) };
  switch (rule.type) {
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value) && value >= rule.min && value <= rule.max
        ? undefined
        : expected;
    case 'boolean':
      return typeof value === 'boolean' ? undefined : expected;
    case 'oneOf':
      return typeof value === 'number' && rule.values.includes(value) ? undefined : expected;
    case 'text': {
      if (typeof value !== 'string' || value.trim() === '') return expected;
      const pattern = rule.arn && value.startsWith('arn:') ? rule.arn.pattern : rule.pattern;
      if (!pattern.test(value)) return expected;
      for (const check of rule.checks ?? []) {
        const problem = check(value);
        if (problem) return { problem };
      }
      return undefined;
    }
  }
}

/** An environment string as the rule's type: "30" for a number, "true" for a boolean. */
export function fromText(rule: Rule, raw: string): unknown {
  if (rule.type === 'integer' || rule.type === 'oneOf') return /^\d+$/.test(raw) ? Number(raw) : raw;
  if (rule.type === 'boolean') return raw === 'true' ? true : raw === 'false' ? false : raw;
  return raw;
}

/** A value as a message shows it: `"text"`, `number 0`, `an object`, `nothing`. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `"${value}"`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}
