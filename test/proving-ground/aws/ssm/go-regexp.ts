/**
 * Whether Go's `regexp.Compile` accepts a pattern, as the SSM Agent asks before any step runs: it
 * compiles every parameter's `allowedPattern` with Go's regexp and refuses the whole document when one
 * does not compile (amazon-ssm-agent `agent/framework/docparser/paramvalidator/allowedregexparamvalidator`).
 * JavaScript's RegExp accepts patterns Go refuses, so the scripted and modelled hosts ask this model.
 *
 * A transcription of Go 1.23's `regexp/syntax` parser (parse.go, Perl flags) as far as it can refuse a
 * pattern: repeat counts (each at most 1000; nested counts whose product passes 1000, `repeatIsValid`),
 * stacked repetition operators, a repetition without argument, parentheses, brackets, escapes and Perl
 * group syntax (no lookarounds, no backreferences). The error text is Go's: `error parsing regexp: CODE:
 * \`EXPR\``. Constructs the model does not transcribe (`\p{…}`, POSIX `[:…:]`, `\Q…\E`, `\x`) are refused
 * with a message saying so: stricter than the agent, never kinder. go-regexp.test.ts beside this file
 * holds the model to Go itself over a corpus.
 */

const MAX_REPEAT = 1000;

/** A parse tree node, only as deep as repeat nesting needs. */
interface Node {
  readonly op: 'leaf' | 'repeat' | 'star' | 'plus' | 'quest' | 'concat' | 'alternate';
  readonly min?: number;
  readonly max?: number;
  readonly subs: readonly Node[];
}

type StackItem = { readonly marker: 'paren' | 'bar' } | { readonly node: Node };

class GoSyntaxError extends Error {
  constructor(code: string, expr: string) {
    super(`error parsing regexp: ${code}: \`${expr}\``);
  }
}

class ModelGap extends Error {}

/** Go's error text for a pattern it refuses, or undefined when it compiles. */
export function goRegexpError(pattern: string): string | undefined {
  try {
    parse(pattern);
    return undefined;
  } catch (error) {
    if (error instanceof GoSyntaxError) return error.message;
    if (error instanceof ModelGap) {
      return `the proving ground's model of Go's regexp does not cover ${error.message}: refused to be safe`;
    }
    throw error;
  }
}

function parse(whole: string): void {
  const stack: StackItem[] = [];
  let t = whole;
  let lastRepeat = '';
  const leaf = () => stack.push({ node: { op: 'leaf', subs: [] } });
  while (t !== '') {
    let repeat = '';
    const c = t[0];
    if (c === '(') {
      if (t.startsWith('(?')) t = perlFlags(t, stack);
      else {
        stack.push({ marker: 'paren' });
        t = t.slice(1);
      }
    } else if (c === '|') {
      collapseAlternative(stack);
      stack.push({ marker: 'bar' });
      t = t.slice(1);
    } else if (c === ')') {
      rightParen(stack, whole);
      t = t.slice(1);
    } else if (c === '^' || c === '$' || c === '.') {
      leaf();
      t = t.slice(1);
    } else if (c === '[') {
      t = charClass(t);
      leaf();
    } else if (c === '*' || c === '+' || c === '?') {
      const before = t;
      const op = c === '*' ? 'star' : c === '+' ? 'plus' : 'quest';
      t = applyRepeat(stack, op, 0, 0, before, t.slice(1), lastRepeat);
      repeat = before;
    } else if (c === '{') {
      const counts = repeatCounts(t);
      if (counts === undefined) {
        leaf(); // not a repeat: `{` is a literal
        t = t.slice(1);
      } else {
        const { min, max, after } = counts;
        const expr = t.slice(0, t.length - after.length);
        if (min < 0 || min > MAX_REPEAT || max > MAX_REPEAT || (max >= 0 && min > max)) {
          throw new GoSyntaxError('invalid repeat count', expr);
        }
        const before = t;
        t = applyRepeat(stack, 'repeat', min, max, before, after, lastRepeat);
        repeat = before;
      }
    } else if (c === '\\') {
      t = escapeAtom(t);
      leaf();
    } else {
      t = t.slice(String.fromCodePoint(t.codePointAt(0) ?? 0).length);
      leaf();
    }
    lastRepeat = repeat;
  }
  collapseAlternation(stack);
  // An unclosed `(` is still on the stack below the collapsed node.
  if (stack.length !== 1) throw new GoSyntaxError('missing closing )', whole);
}

/** `(?…`: a named capture, flags, or a non-capturing group; anything else is unsupported Perl syntax. */
function perlFlags(s: string, stack: StackItem[]): string {
  const startsWithP = s.length > 4 && s[2] === 'P' && s[3] === '<';
  const startsWithName = s.length > 3 && s[2] === '<';
  if (startsWithP || startsWithName) {
    const end = s.indexOf('>');
    if (end < 0) throw new GoSyntaxError('invalid named capture', s);
    const capture = s.slice(0, end + 1);
    const name = s.slice(startsWithName ? 3 : 4, end);
    if (!/^[A-Za-z0-9_]+$/.test(name)) throw new GoSyntaxError('invalid named capture', capture);
    stack.push({ marker: 'paren' });
    return s.slice(end + 1);
  }
  let t = s.slice(2);
  let negated = false;
  let sawFlag = false;
  while (t !== '') {
    const c = String.fromCodePoint(t.codePointAt(0) ?? 0);
    t = t.slice(c.length);
    if ('imsU'.includes(c)) {
      sawFlag = true;
      continue;
    }
    if (c === '-') {
      if (negated) break;
      negated = true;
      sawFlag = false;
      continue;
    }
    if (c === ':' || c === ')') {
      if (negated && !sawFlag) break;
      if (c === ':') stack.push({ marker: 'paren' });
      return t;
    }
    break;
  }
  throw new GoSyntaxError('invalid or unsupported Perl syntax', s.slice(0, s.length - t.length));
}

/** Go's parseRepeat: `{n}`, `{n,}` or `{n,m}`; min -1 when a number is too big; undefined when not a repeat. */
function repeatCounts(s: string): { min: number; max: number; after: string } | undefined {
  let t = s.slice(1);
  const first = integer(t);
  if (first === undefined) return undefined;
  let min = first.n;
  let max: number;
  t = first.rest;
  if (t === '') return undefined;
  if (t[0] !== ',') max = min;
  else {
    t = t.slice(1);
    if (t === '') return undefined;
    if (t[0] === '}') max = -1;
    else {
      const second = integer(t);
      if (second === undefined) return undefined;
      max = second.n;
      t = second.rest;
      if (max < 0) min = -1;
    }
  }
  if (t === '' || t[0] !== '}') return undefined;
  return { min, max, after: t.slice(1) };
}

/** Go's parseInt: digits without a leading zero; -1 once the value reaches 1e8. */
function integer(s: string): { n: number; rest: string } | undefined {
  const digits = /^[0-9]+/.exec(s)?.[0];
  if (digits === undefined || (digits.length >= 2 && digits[0] === '0')) return undefined;
  let n = 0;
  for (const d of digits) {
    if (n >= 1e8) {
      n = -1;
      break;
    }
    n = n * 10 + Number(d);
  }
  return { n, rest: s.slice(digits.length) };
}

function applyRepeat(
  stack: StackItem[],
  op: Node['op'],
  min: number,
  max: number,
  before: string,
  afterOp: string,
  lastRepeat: string,
): string {
  let after = afterOp;
  if (after.startsWith('?')) after = after.slice(1); // non-greedy
  if (lastRepeat !== '') {
    throw new GoSyntaxError(
      'invalid nested repetition operator',
      lastRepeat.slice(0, lastRepeat.length - after.length),
    );
  }
  const top = stack[stack.length - 1];
  if (top === undefined || !('node' in top)) {
    throw new GoSyntaxError(
      'missing argument to repetition operator',
      before.slice(0, before.length - after.length),
    );
  }
  const node: Node = { op, min, max, subs: [top.node] };
  stack[stack.length - 1] = { node };
  if (op === 'repeat' && (min >= 2 || max >= 2) && !repeatIsValid(node, MAX_REPEAT)) {
    throw new GoSyntaxError('invalid repeat count', before.slice(0, before.length - after.length));
  }
  return after;
}

/** Go's repeatIsValid: no path through nested repeats multiplies past n copies of the innermost thing. */
function repeatIsValid(node: Node, limit: number): boolean {
  let n = limit;
  if (node.op === 'repeat') {
    let m = node.max ?? 0;
    if (m === 0) return true;
    if (m < 0) m = node.min ?? 0;
    if (m > n) return false;
    if (m > 0) n = Math.floor(n / m);
  }
  return node.subs.every((sub) => repeatIsValid(sub, n));
}

/** Concatenates the nodes above the topmost marker into one. */
function collapseAlternative(stack: StackItem[]): void {
  const nodes: Node[] = [];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (top === undefined || !('node' in top)) break;
    nodes.unshift(top.node);
    stack.pop();
  }
  stack.push({ node: { op: 'concat', subs: nodes } });
}

/** Collapses alternatives above the topmost `(` (or the bottom) into one node. */
function collapseAlternation(stack: StackItem[]): void {
  collapseAlternative(stack);
  const alternatives: Node[] = [];
  for (;;) {
    const top = stack.pop();
    if (top === undefined) break;
    if ('node' in top) alternatives.unshift(top.node);
    else if (top.marker === 'paren') {
      stack.push(top);
      break;
    }
  }
  stack.push({
    node:
      alternatives.length === 1 && alternatives[0]
        ? alternatives[0]
        : { op: 'alternate', subs: alternatives },
  });
}

function rightParen(stack: StackItem[], whole: string): void {
  collapseAlternation(stack);
  const body = stack.pop();
  const open = stack.pop();
  if (body === undefined || open === undefined || 'node' in open) {
    throw new GoSyntaxError('unexpected )', whole);
  }
  stack.push(body);
}

/** A `[…]` class; returns what follows it. */
function charClass(s: string): string {
  let t = s.slice(1);
  if (t.startsWith('^')) t = t.slice(1);
  let first = true;
  while (t === '' || t[0] !== ']' || first) {
    first = false;
    if (t.length > 2 && t[0] === '[' && t[1] === ':') throw new ModelGap('a POSIX class `[:…:]`');
    if (/^\\[pP]/.test(t)) throw new ModelGap('a Unicode class `\\p`');
    if (/^\\[dDsSwW]/.test(t)) {
      t = t.slice(2);
      continue;
    }
    const range = t;
    const lo = classChar(t, s);
    t = lo.rest;
    let hi = lo.rune;
    if (t.length >= 2 && t[0] === '-' && t[1] !== ']') {
      const upper = classChar(t.slice(1), s);
      t = upper.rest;
      hi = upper.rune;
      if (hi < lo.rune)
        throw new GoSyntaxError('invalid character class range', range.slice(0, range.length - t.length));
    }
  }
  return t.slice(1);
}

function classChar(s: string, wholeClass: string): { rune: number; rest: string } {
  if (s === '') throw new GoSyntaxError('missing closing ]', wholeClass);
  if (s[0] === '\\') return escapeRune(s);
  const rune = s.codePointAt(0) ?? 0;
  return { rune, rest: s.slice(String.fromCodePoint(rune).length) };
}

/** An escape outside a class: assertions, Perl classes or one character; returns what follows it. */
function escapeAtom(s: string): string {
  const next = s[1];
  if (next !== undefined && 'AbBz'.includes(next)) return s.slice(2);
  if (next === 'C') throw new GoSyntaxError('invalid escape sequence', s.slice(0, 2));
  if (next === 'Q') throw new ModelGap('`\\Q…\\E`');
  if (next === 'p' || next === 'P') throw new ModelGap('a Unicode class `\\p`');
  if (next !== undefined && 'dDsSwW'.includes(next)) return s.slice(2);
  return escapeRune(s).rest;
}

/** Go's parseEscape: one escaped character. */
function escapeRune(s: string): { rune: number; rest: string } {
  let t = s.slice(1);
  if (t === '') throw new GoSyntaxError('trailing backslash at end of expression', '');
  const c = String.fromCodePoint(t.codePointAt(0) ?? 0);
  t = t.slice(c.length);
  const code = c.codePointAt(0) ?? 0;
  if (code < 0x80 && !/[A-Za-z0-9]/.test(c)) return { rune: code, rest: t };
  const octal = (d: string) => d >= '0' && d <= '7';
  if ((c >= '1' && c <= '7' && t !== '' && octal(t[0] ?? '')) || c === '0') {
    let r = Number(c);
    for (let i = 1; i < 3 && t !== '' && octal(t[0] ?? ''); i++) {
      r = r * 8 + Number(t[0]);
      t = t.slice(1);
    }
    return { rune: r, rest: t };
  }
  if (c === 'x') throw new ModelGap('a hexadecimal escape `\\x`');
  const controls: Record<string, number> = { a: 7, f: 12, n: 10, r: 13, t: 9, v: 11 };
  const control = controls[c];
  if (control !== undefined) return { rune: control, rest: t };
  throw new GoSyntaxError('invalid escape sequence', s.slice(0, s.length - t.length));
}
