#!/usr/bin/env bash
# The SSM agent runs this file with sh (dash on Debian/Ubuntu) and ignores the shebang.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# Observes each installed Kasm component; makes the sealing key with KeyPair=create, or with KeyPair=auto
# where a component is locked out by the host's own reading of the rule.
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
if [ -z "${SSM_GraceSeconds+x}" ]; then SSM_GraceSeconds='{{GraceSeconds}}'; fi
# An agent that did neither passed no parameters: say so and touch nothing.
if parameters_missing InstallRoot RunId KeyPair GraceSeconds; then
  echo 'host error=missing-parameters'
  echo end
  exit 1
fi
ROOT="$SSM_InstallRoot"

# `exp` of a token's header.payload (base64url JSON), or nothing when it has none that is a whole number.
token_exp() {
  local payload="${1#*.}" json
  payload=$(printf '%s' "$payload" | tr '_-' '/+')
  case $((${#payload} % 4)) in 2) payload="$payload==" ;; 3) payload="$payload=" ;; esac
  json=$(printf '%s' "$payload" | base64 -d 2>/dev/null | head -c 65536 | tr -d '\n')
  [[ $json =~ \"exp\"[[:space:]]*:[[:space:]]*([0-9]{1,12})([^0-9.eE]|$) ]] && echo "${BASH_REMATCH[1]}"
}

# Whether a component whose fields `describe` printed needs a delivery, by the host's own reading of the
# rule the function applies (shared/token-rules.ts decide): its token expired at least GraceSeconds ago
# (host clock), and no registration file is waiting. The function decides again by its own clock; this
# only says whether to make a sealing key now.
locked_out() {
  local fields="$1" token reg exp
  token="${fields#token=}" && token="${token%% *}"
  reg="${fields#* reg=}" && reg="${reg%% *}"
  [ "$reg" = absent ] || return 1
  case "$token" in none | unreadable) return 1 ;; esac
  exp=$(token_exp "$token") || return 1
  # Base 10 whatever the leading zeros (bash reads 010 as octal).
  [ -n "$exp" ] && [ "$(date +%s)" -ge $((10#$exp + 10#$SSM_GraceSeconds)) ]
}

# This host can unseal a sealed token when it has openssl (the push unseals with it).
if command -v openssl >/dev/null 2>&1; then can_unseal=1; else can_unseal=0; fi
echo "host unseal=$can_unseal now=$(date +%s)"

# Sealing keys of runs that ended without pushing are useless: remove them (and any an earlier
# version left on persistent disk). What a killed step left is swept under the host's lock (without it
# when there is no state directory: then no push can be writing); the key is made under it too, so a
# sweep never takes a key half-written.
remove_stale_keys
# Reads every installed component into `comps`; sets need_key when one is locked out (KeyPair=auto).
read_components() {
  local row name rel file section key container fields
  comps=()
  for row in "${COMPONENTS[@]}"; do
    IFS='|' read -r name rel file section key container <<<"$row"
    if fields=$(describe "$ROOT/$rel" "$file" "$section" "$key" "$container"); then
      comps+=("comp $name $fields")
      if [ "$SSM_KeyPair" = auto ] && locked_out "$fields"; then need_key=1; fi
    fi
  done
}
need_key=0
read_components

if { [ "$SSM_KeyPair" = create ] || [ "$need_key" = 1 ]; } && [ "$can_unseal" = 1 ]; then
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
      made_key=1
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

# The push stands back from a component whose config was saved after the key was made (config-changed),
# trusting that the probe which made the key reported each component as it was from then on: read again.
if [ "${made_key:-0}" = 1 ]; then read_components; fi
for line in ${comps[@]+"${comps[@]}"}; do echo "$line"; done
echo end
