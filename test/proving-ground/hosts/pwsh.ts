/**
 * Where PowerShell 7 is on this machine: the proving ground runs the Windows steps with it. Looked up
 * once: `$KTR_PWSH`, then `pwsh` on PATH, then the .NET tool location `~/.dotnet/tools/pwsh`
 * (`dotnet tool install --global PowerShell --version 7.6.9`, as .ci/run does).
 */
import { accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

export const PWSH_INSTALL_HINT = 'dotnet tool install --global PowerShell --version 7.6.9';

let cached: { path: string | undefined } | undefined;

/** Whether `path` is a file this process may execute. */
export function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Absolute path of `pwsh`, or undefined when PowerShell 7 is not installed. */
export function findPwsh(): string | undefined {
  if (cached) return cached.path;
  const candidates = [
    process.env.KTR_PWSH,
    ...(process.env.PATH ?? '').split(delimiter).map((dir) => (dir ? join(dir, 'pwsh') : undefined)),
    join(homedir(), '.dotnet', 'tools', 'pwsh'),
  ];
  const path = candidates.find((c): c is string => c !== undefined && c !== '' && executable(c));
  cached = { path };
  return path;
}

/** Why Windows steps cannot run here, for messages and skipped-test names. */
export function pwshMissingReason(): string {
  return `PowerShell 7 (pwsh) is not installed on this machine (install it with: ${PWSH_INSTALL_HINT})`;
}

/**
 * For tests that need pwsh: skip them (saying why) where it is missing, except in CI (`CI=true`), where
 * they run and fail, because CI installs PowerShell (.ci/run).
 */
export function pwshGate(): { readonly skip: boolean; readonly label: string } {
  if (findPwsh()) return { skip: false, label: '' };
  if (process.env.CI === 'true') return { skip: false, label: ' [pwsh missing: fails in CI]' };
  return { skip: true, label: ` [skipped: ${pwshMissingReason()}]` };
}
