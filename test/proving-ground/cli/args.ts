/** Minimal `--flag value` parsing for the proving ground's commands. */
export function parseFlags(
  argv: readonly string[],
  allowed: readonly string[],
  usage: string,
): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const name = arg.replace(/^--/, '');
    const value = argv[i + 1];
    if (!arg.startsWith('--') || !allowed.includes(name) || value === undefined) {
      process.stderr.write(
        `${arg.startsWith('--') && allowed.includes(name) ? `${arg} needs a value` : `unexpected argument ${JSON.stringify(arg)}`}\n${usage}\n`,
      );
      process.exit(64);
    }
    flags.set(name, value);
    i++;
  }
  return flags;
}
