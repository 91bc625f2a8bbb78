#!/usr/bin/env bash
# Shellchecks the Linux steps exactly as the SSM documents carry them (catalog and common.sh spliced in),
# plus the script sources and the proving ground's own scripts.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
npx tsx -e "
import { linuxScript } from './shared/documents/ssm-documents.ts';
import { writeFileSync } from 'node:fs';
for (const role of ['probe', 'push']) writeFileSync('$out/' + role + '.sh', linuxScript(role));
"
mapfile -t others < <(git ls-files '*.sh' | grep -v '^shared/documents/linux/')
shellcheck -s bash "$out/probe.sh" "$out/push.sh" shared/documents/linux/*.sh "${others[@]}"
npx tsx test/bash42-check.ts "$out/probe.sh" "$out/push.sh" shared/documents/linux/*.sh
echo "shellcheck: document scripts and repository scripts are clean, and use nothing newer than bash 4.2"
