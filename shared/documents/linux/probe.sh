#!/usr/bin/env bash
# The SSM agent runs this file with sh (dash on Debian/Ubuntu) and ignores the shebang.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# Observes each installed Kasm component; with KeyPair=create also makes the sealing key.
# @@CATALOG@@
# @@OBSERVE@@
set -u
umask 077
ROOT="${SSM_InstallRoot:-$DEFAULT_ROOT}"
KEY_TTL=900

echo 'ktr-probe v1'
if command -v openssl >/dev/null 2>&1; then has_openssl=1; else has_openssl=0; fi
echo "host openssl=$has_openssl now=$(date +%s)"

# Sealing keys of runs that ended without pushing are useless: remove them.
if [ -d "$STATE_DIR" ]; then
  find "$STATE_DIR" -maxdepth 1 -name 'seal-*.key' -mmin +$((KEY_TTL / 60)) -delete 2>/dev/null
fi

if [ "${SSM_KeyPair:-none}" = create ] && [ "$has_openssl" = 1 ]; then
  key="$STATE_DIR/seal-${SSM_RunId:-none}.key"
  if mkdir -p "$STATE_DIR" && chmod 700 "$STATE_DIR" &&
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$key.tmp" 2>/dev/null &&
    mv -f "$key.tmp" "$key"; then
    echo "key spki=$(openssl pkey -in "$key" -pubout -outform DER 2>/dev/null | base64 -w0)"
  else
    rm -f "$key.tmp"
    echo 'key error=keygen-failed'
  fi
fi

for row in "${COMPONENTS[@]}"; do
  IFS='|' read -r name rel file section key container <<<"$row"
  if fields=$(describe "$ROOT/$rel" "$file" "$section" "$key" "$container"); then
    echo "comp $name $fields"
  fi
done
echo end
