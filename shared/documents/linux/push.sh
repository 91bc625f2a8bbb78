#!/usr/bin/env bash
# The SSM agent runs this file with sh (dash on Debian/Ubuntu) and ignores the shebang.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# Unseals the registration token, writes it next to each named config, waits for consumption.
# @@CATALOG@@
# @@OBSERVE@@
set -u
umask 077
ROOT="${SSM_InstallRoot:-$DEFAULT_ROOT}"
KEY="$STATE_DIR/seal-${SSM_RunId:-none}.key"
WAIT="${SSM_WaitSeconds:-65}"
TMP_FILES=()
cleanup() {
  local f
  for f in "${TMP_FILES[@]}"; do rm -f "$f"; done
  rm -f "$KEY"
}
trap cleanup EXIT

echo 'ktr-push v1'
entry=''
for e in ${SSM_Deliveries:-}; do
  case "$e" in "${AWS_SSM_INSTANCE_ID:-}:"*) entry="${e#*:}" ;; esac
done
if [ -z "$entry" ]; then
  echo 'host result=no-delivery'
  echo end
  exit 0
fi
wanted="${entry%%:*}"
sealed="${entry#*:}"

fail_all() {
  local n
  for n in ${wanted//+/ }; do echo "comp $n push=failed reason=$1"; done
  echo end
  exit 0
}

command -v openssl >/dev/null 2>&1 || fail_all openssl-missing
[ -f "$KEY" ] || fail_all key-missing
secret=$(printf '%s' "$sealed" | base64 -d 2>/dev/null |
  openssl pkeyutl -decrypt -inkey "$KEY" -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 2>/dev/null) || fail_all unseal-failed
rm -f "$KEY"
[[ -n $secret && $secret =~ ^[A-Za-z0-9+/=._-]+$ ]] || fail_all unsealed-value-invalid
echo 'host result=unsealed'

declare -A status reason
delivered=()
for row in "${COMPONENTS[@]}"; do
  IFS='|' read -r name rel file section key container <<<"$row"
  case "+$wanted+" in *"+$name+"*) ;; *) continue ;; esac
  dir="$ROOT/$rel"
  if [ ! -f "$dir/$file" ]; then status[$name]=failed; reason[$name]=config-missing; continue; fi
  # Atomic write: a temp file in the same directory, then rename over the final name.
  if ! tmp=$(mktemp "$dir/.registration_token.XXXXXX" 2>/dev/null); then
    status[$name]=failed; reason[$name]=write-denied; continue
  fi
  TMP_FILES+=("$tmp")
  if printf '%s\n' "$secret" >"$tmp" && chown --reference="$dir/$file" "$tmp" && chmod 0600 "$tmp" &&
    mv -f "$tmp" "$dir/$REG_FILE"; then
    status[$name]=written; delivered+=("$dir")
  else
    rm -f "$tmp"; status[$name]=failed; reason[$name]=write-failed
  fi
done
unset secret

# Wait on the host for the components to consume the file: saves a confirming round trip.
waited=0
while [ "$waited" -lt "$WAIT" ]; do
  left=0
  for d in "${delivered[@]}"; do [ -e "$d/$REG_FILE" ] && left=1; done
  [ "$left" = 0 ] && break
  sleep 1
  waited=$((waited + 1))
done
echo "host waited=$waited"

for row in "${COMPONENTS[@]}"; do
  IFS='|' read -r name rel file section key container <<<"$row"
  [ -n "${status[$name]:-}" ] || continue
  if [ "${status[$name]}" = failed ]; then
    echo "comp $name push=failed reason=${reason[$name]}"
  else
    echo "comp $name push=written $(describe "$ROOT/$rel" "$file" "$section" "$key" "$container")"
  fi
done
echo end
