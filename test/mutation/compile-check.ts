/**
 * Which mutants the TypeScript compiler rejects. Stryker's typescript-checker does this before
 * each test run, but on a 2-core machine it checks about 8 mutants a minute and made a run of
 * shared/ and lambda/ take most of a day; without it the tests see 100 a minute. So the run goes
 * without the checker, and mutate:score replays each survivor through one reused compiler program
 * instead: the mutated file's own diagnostics, its imports resolved as tsconfig.mutate.json says.
 * It only sorts survivors into lists; the score counts them all, the ones tsc rejects included.
 */
import { resolve } from 'node:path';
import ts from 'typescript';

export interface MutantPlace {
  replacement?: string;
  location: { start: { line: number; column: number }; end: { line: number; column: number } };
}

export class CompileCheck {
  private readonly options: ts.CompilerOptions;
  private readonly rootNames: string[];
  private readonly host: ts.CompilerHost;
  private base: ts.Program;
  private override: { file: string; text: string } | undefined;

  constructor(tsconfig = 'tsconfig.mutate.json') {
    const config = ts.getParsedCommandLineOfConfigFile(
      tsconfig,
      {},
      {
        ...ts.sys,
        onUnRecoverableConfigFileDiagnostic: (d) => {
          throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
        },
      },
    );
    if (!config) throw new Error(`cannot read ${tsconfig}`);
    this.options = config.options;
    this.rootNames = config.fileNames;
    const real = ts.createCompilerHost(this.options, true);
    // The same SourceFile objects every time, so each new program reuses all but the mutated one
    // instead of parsing some two thousand files (most of them the AWS SDK's types) again.
    const parsed = new Map<string, ts.SourceFile | undefined>();
    this.host = {
      ...real,
      getSourceFile: (name, language, onError, fresh) => {
        if (this.override && resolve(name) === this.override.file)
          return ts.createSourceFile(name, this.override.text, language, true);
        if (!parsed.has(name)) parsed.set(name, real.getSourceFile(name, language, onError, fresh));
        return parsed.get(name);
      },
    };
    this.base = ts.createProgram(this.rootNames, this.options, this.host);
  }

  /** The compiler's first error for the file with this mutant applied, or undefined if it compiles. */
  errorFor(file: string, source: string, mutant: MutantPlace): string | undefined {
    if (mutant.replacement === undefined) return undefined;
    const absolute = resolve(file);
    const text = applyMutant(source, mutant);
    this.override = { file: absolute, text };
    try {
      // Reusing the unmutated program re-parses only the mutated file.
      const program = ts.createProgram(this.rootNames, this.options, this.host, this.base);
      const sourceFile = program.getSourceFile(absolute);
      if (!sourceFile) return `not part of ${this.rootNames.length} files compiled`;
      const [first] = [
        ...program.getSyntacticDiagnostics(sourceFile),
        ...program.getSemanticDiagnostics(sourceFile),
      ];
      return first && `TS${first.code}: ${ts.flattenDiagnosticMessageText(first.messageText, ' ')}`;
    } finally {
      this.override = undefined;
    }
  }
}

/** The source with the mutant's replacement put where Stryker's 1-based location says. */
export function applyMutant(source: string, { replacement = '', location }: MutantPlace): string {
  const lineStarts = [0];
  for (let i = 0; i < source.length; i++) if (source[i] === '\n') lineStarts.push(i + 1);
  const offset = (p: { line: number; column: number }) =>
    (lineStarts[p.line - 1] ?? source.length) + p.column - 1;
  return source.slice(0, offset(location.start)) + replacement + source.slice(offset(location.end));
}
