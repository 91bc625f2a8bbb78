#!/usr/bin/env bash
# Checks the Windows steps exactly as the SSM documents carry them (catalog and common.ps1 spliced
# in), plus their sources, with test/pwsh-check.ps1: they must parse and use nothing newer than Windows
# PowerShell 5.1. Needs PowerShell 7 (pwsh); without it the check is skipped with a warning, except in CI
# (CI=true), where a missing pwsh fails.
set -euo pipefail
cd "$(dirname "$0")/.."
pwsh=$(command -v pwsh || true)
if [ -z "$pwsh" ] && [ -x "$HOME/.dotnet/tools/pwsh" ]; then pwsh="$HOME/.dotnet/tools/pwsh"; fi
if [ -z "$pwsh" ]; then
  msg='pwsh-check: PowerShell 7 (pwsh) is not installed, so the Windows scripts were NOT checked (install: dotnet tool install --global PowerShell --version 7.6.9)'
  if [ "${CI:-}" = true ]; then
    echo "$msg; failing because CI=true" >&2
    exit 1
  fi
  echo "warning: $msg" >&2
  exit 0
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
npx tsx -e "
import { windowsScript } from './shared/documents/ssm-documents.ts';
import { writeFileSync } from 'node:fs';
for (const role of ['probe', 'push']) writeFileSync('$out/' + role + '.ps1', windowsScript(role));
"
"$pwsh" -NoLogo -NoProfile -NonInteractive -File test/pwsh-check.ps1 "$out/probe.ps1" "$out/push.ps1" shared/documents/windows/*.ps1
