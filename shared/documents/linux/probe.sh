#!/usr/bin/env bash
# The SSM agent runs this file with sh (dash on Debian/Ubuntu) and ignores the shebang.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# Observes each installed Kasm component; with KeyPair=create also makes the sealing key.
# Answers in the host line protocol (shared/documents/README.md).
# @@CATALOG@@
# @@COMMON@@
set -u
umask 077

echo 'ktr-probe v1'
# SSM Agents before 3.3.2746.0 set no SSM_* variables; they splice each parameter's value into this
# text at its placeholder instead (AWS's documented fallback, parameter-troubleshooting.html). Spliced
# only inside single quotes, where bash interprets nothing but `'`, which no allowedPattern admits (nor
# any control character): test/documents/splice.test.ts proves it from the patterns themselves.
if [ -z "${SSM_InstallRoot+x}" ]; then SSM_InstallRoot='{{InstallRoot}}'; fi
if [ -z "${SSM_RunId+x}" ]; then SSM_RunId='{{RunId}}'; fi
if [ -z "${SSM_KeyPair+x}" ]; then SSM_KeyPair='{{KeyPair}}'; fi
# An agent that did neither passed no parameters: say so and touch nothing.
if parameters_missing InstallRoot RunId KeyPair; then
  echo 'host error=missing-parameters'
  echo end
  exit 1
fi
ROOT="$SSM_InstallRoot"
# This host can unseal a sealed token when it has openssl (the push unseals with it).
if command -v openssl >/dev/null 2>&1; then can_unseal=1; else can_unseal=0; fi
echo "host unseal=$can_unseal now=$(date +%s)"

# Sealing keys of runs that ended without pushing are useless: remove them (and any an earlier
# version left on persistent disk). What a killed step left is swept under the host's lock (without it
# when there is no state directory: then no push can be writing); the key is made under it too, so a
# sweep never takes a key half-written.
remove_stale_keys
if [ "$SSM_KeyPair" = create ] && [ "$can_unseal" = 1 ]; then
  key="$STATE_DIR/seal-$SSM_RunId.key"
  if ! state_dir_ready; then
    echo 'key error=state-dir-unsafe'
  elif ! take_host_lock; then
    echo 'key error=host-busy'
  else
    sweep_leftovers
    if openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$key.tmp" 2>/dev/null &&
      mv -f -T "$key.tmp" "$key"; then
      echo "key spki=$(openssl pkey -in "$key" -pubout -outform DER 2>/dev/null | base64 -w0)"
    else
      rm -f "$key.tmp"
      echo 'key error=keygen-failed'
    fi
    release_host_lock
  fi
elif [ ! -e "$STATE_DIR" ] && [ ! -L "$STATE_DIR" ]; then
  sweep_leftovers
elif take_host_lock; then
  sweep_leftovers
  release_host_lock
fi

for row in "${COMPONENTS[@]}"; do
  IFS='|' read -r name rel file section key container <<<"$row"
  if fields=$(describe "$ROOT/$rel" "$file" "$section" "$key" "$container"); then
    echo "comp $name $fields"
  fi
done
echo end
