#!/usr/bin/env bash
# The SSM agent runs this file with sh (dash on Debian/Ubuntu) and ignores the shebang.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# Unseals the registration token, writes it next to each named config, waits for consumption.
# Answers in the host line protocol (shared/documents/README.md).
# @@CATALOG@@
# @@COMMON@@
set -u
umask 077

echo 'ktr-push v1'
# SSM Agents before 3.3.2746.0 set no SSM_* variables; they splice each parameter's value into this
# text at its placeholder instead (AWS's documented fallback, parameter-troubleshooting.html). Spliced
# only inside single quotes, where bash interprets nothing but `'`, which no allowedPattern admits (nor
# any control character): test/documents/splice.test.ts proves it from the patterns themselves.
if [ -z "${SSM_InstallRoot+x}" ]; then SSM_InstallRoot='{{InstallRoot}}'; fi
if [ -z "${SSM_RunId+x}" ]; then SSM_RunId='{{RunId}}'; fi
if [ -z "${SSM_Deliveries+x}" ]; then SSM_Deliveries='{{Deliveries}}'; fi
if [ -z "${SSM_WaitSeconds+x}" ]; then SSM_WaitSeconds='{{WaitSeconds}}'; fi
if [ -z "${SSM_NotAfter+x}" ]; then SSM_NotAfter='{{NotAfter}}'; fi
# An agent that did neither passed no parameters: say so and touch nothing.
if parameters_missing InstallRoot RunId Deliveries WaitSeconds NotAfter; then
  echo 'host error=missing-parameters'
  echo end
  exit 1
fi
ROOT="$SSM_InstallRoot"
KEY="$STATE_DIR/seal-$SSM_RunId.key"
# The key once this push claimed it (renamed under the host's lock): only a push killed half-way leaves one.
CLAIMED="$KEY.used"
WAIT="$SSM_WaitSeconds"
# The key is of no use after this command, whatever happens: remove it on every way out.
trap 'rm -f -- "$KEY" "$CLAIMED"' EXIT

# A push that arrives after the run gave up on it (agent offline, delivery queued) does nothing.
if ! [[ $SSM_NotAfter =~ ^[0-9]+$ ]] || [ "$(date +%s)" -gt "$SSM_NotAfter" ]; then
  echo 'host result=too-late'
  echo end
  exit 0
fi

# The function sends one entry per host (lambda/steps/deliver.ts deliveriesValue, from a map keyed by
# instance id), so a second one for this host cannot come from it; should one appear, the last one
# counts, as on Windows (a protocol code for a case the function cannot produce is not worth its cost).
entry=''
for e in $SSM_Deliveries; do
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

# From here until every file is written, this push holds the host's lock: overlapping runs check and
# write one at a time, and what a killed push left is swept before anything else.
command -v openssl >/dev/null 2>&1 || fail_all openssl-missing
if [ ! -f "$KEY" ] || [ -L "$KEY" ] || ! state_dir_safe; then fail_all key-missing; fi
take_host_lock || fail_all host-busy
sweep_leftovers
key_mtime=$(stat -c %Y -- "$KEY" 2>/dev/null) || fail_all key-missing
[ $(($(date +%s) - key_mtime)) -le "$KEY_TTL" ] || fail_all key-expired
mv -f -T -- "$KEY" "$CLAIMED" 2>/dev/null || fail_all key-missing
remove_stale_keys
secret=$(printf '%s' "$sealed" | base64 -d 2>/dev/null |
  openssl pkeyutl -decrypt -inkey "$CLAIMED" -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 2>/dev/null) || fail_all unseal-failed
[[ -n $secret && $secret =~ ^[A-Za-z0-9+/=._-]+$ ]] || fail_all unsealed-value-invalid
echo 'host result=unsealed'

# Runs as the config directory's owner, in that directory, with the token on standard input: a temp
# file made there (mktemp: new, 0600), filled, checked, then renamed over the final name without
# following anything (mv -T; rename(2) replaces a symlink, never writes through it). Whatever fails,
# its EXIT trap removes the temp file; a SIGKILL skips it, and the next probe or push sweeps the file.
# Prints one word, which root takes only as a hint: it confirms a write itself (confirm_written).
# shellcheck disable=SC2016 # expanded by the owner's bash, not here
WRITER='set -u
umask 077
final=$1
tmp=$(mktemp "./.$final.XXXXXX" 2>/dev/null) || { echo write-denied; exit 0; }
trap '\''rm -f -- "$tmp"'\'' EXIT
trap '\''exit 1'\'' HUP INT TERM
if ! cat >"$tmp" 2>/dev/null || [ "$(stat -c %F -- "$tmp" 2>/dev/null)" != "regular file" ]; then
  echo write-failed; exit 0
fi
case "$(stat -c %F -- "$final" 2>/dev/null || echo absent)" in
  absent | "regular file" | "regular empty file") ;;
  *) echo target-not-regular; exit 0 ;;
esac
if mv -f -T -- "$tmp" "$final" 2>/dev/null; then echo written; else echo write-failed; fi'

# Whether registration_token.txt of the working directory is exactly what root meant to write: a regular
# file of uid $1, mode 0600, holding $2 and a newline. Root looks itself, since whatever the owner's
# processes print may be forged (the owner can trace them): lstat, then a bounded read that follows no
# symlink and waits on no FIFO, compared by hash. A file already gone counts only when the component took
# it: it saves its new token (config $3) before it removes the file, so the config is newer than the key.
confirm_written() {
  local uid="$1" want="$2" config="$3" found got
  found=$(stat -c '%F|%u|%a|%s' -- "$REG_FILE" 2>/dev/null) || { config_saved_since_key "$config"; return; }
  [ "$found" = "regular file|$uid|600|$((${#want} + 1))" ] || return 1
  got=$(timeout -s KILL "$OWNER_SECONDS" dd if="./$REG_FILE" iflag=nofollow,nonblock bs=4096 count=1 status=none 2>/dev/null | sha256sum)
  [ "$got" = "$(printf '%s\n' "$want" | sha256sum)" ] && return 0
  [ "$(entry_kind "$REG_FILE")" = absent ] && config_saved_since_key "$config"
}

# Whether config file $1 of the working directory was saved after this run's probe made its key.
config_saved_since_key() {
  [ -n "$(find -P "./$1" -maxdepth 0 -newer "$CLAIMED" 2>/dev/null)" ]
}

# Delivers token $3 into one component's config directory $1 (config file $2); prints the outcome. Nothing
# is written when another run's file is already waiting (already-waiting) or the config was saved since
# this run's probe made its key (config-changed: the component got a new token meanwhile).
deliver_to() {
  local dir="$1" file="$2" token="$3" uid gid word
  cd -P -- "$dir" 2>/dev/null || { echo config-missing; return; }
  [ "$(entry_kind "$file")" = regular ] || { echo config-missing; return; }
  ! on_user_mount || { echo dir-on-user-mount; return; }
  case "$(entry_kind "$REG_FILE")" in
    other) echo target-not-regular; return ;;
    regular) echo already-waiting; return ;;
  esac
  ! config_saved_since_key "$file" || { echo config-changed; return; }
  uid=$(dir_uid) || { echo dir-unsafe; return; }
  gid=$(group_of "$uid") || { echo dir-owner-unknown; return; }
  if [ "$uid" != 0 ] && ! command -v setpriv >/dev/null 2>&1; then echo setpriv-missing; return; fi
  word=$(printf '%s\n' "$token" | as_owner "$uid" "$gid" bash -c "$WRITER" ktr-writer "$REG_FILE" | bounded_read 64)
  case "$word" in
    written)
      if confirm_written "$uid" "$token" "$file"; then
        echo written
      else
        # Not the file meant (the owner's doing): taken away, as the owner, so that no copy of the token
        # root cannot vouch for (one made readable to others, say) waits there for later runs to skip.
        as_owner "$uid" "$gid" rm -f -- "$REG_FILE" </dev/null >/dev/null
        echo write-unconfirmed
      fi
      ;;
    write-denied | target-not-regular) echo "$word" ;;
    *) echo write-failed ;;
  esac
}

# absent, regular or other: what the registration file in a delivered directory is now.
registration_kind() {
  (cd -P -- "$1" 2>/dev/null && entry_kind "$REG_FILE") || echo absent
}

declare -A status
delivered=()
for row in "${COMPONENTS[@]}"; do
  IFS='|' read -r name rel file section key container <<<"$row"
  case "+$wanted+" in *"+$name+"*) ;; *) continue ;; esac
  outcome=$(deliver_to "$ROOT/$rel" "$file" "$secret")
  status[$name]="${outcome:-write-failed}"
  [ "${status[$name]}" = written ] && delivered+=("$ROOT/$rel")
done
unset secret
rm -f -- "$CLAIMED"
release_host_lock

# Wait on the host for the components to consume the file: saves a confirming round trip. A file
# that is no longer a regular file (swapped by the directory's owner) is not waited for.
waited=0
while [ "$waited" -lt "$WAIT" ]; do
  left=0
  for d in ${delivered[@]+"${delivered[@]}"}; do [ "$(registration_kind "$d")" = regular ] && left=1; done
  [ "$left" = 0 ] && break
  sleep 1
  waited=$((waited + 1))
done
echo "host waited=$waited"

# `comp NAME push=…` with the component as it is now; a config its owner moved away meanwhile (or
# swapped for something describe will not read) cannot be described: that component failed.
report_after() {
  local fields
  if fields=$(describe "$ROOT/$rel" "$file" "$section" "$key" "$container"); then
    echo "comp $name $1 $fields"
  else
    echo "comp $name push=failed reason=config-missing"
  fi
}
for row in "${COMPONENTS[@]}"; do
  IFS='|' read -r name rel file section key container <<<"$row"
  outcome="${status[$name]:-}"
  case "$outcome" in
    '') ;;
    written)
      if [ "$(registration_kind "$ROOT/$rel")" = other ]; then
        echo "comp $name push=failed reason=target-replaced"
      else
        report_after push=written
      fi
      ;;
    already-waiting) report_after 'push=skipped reason=already-waiting' ;;
    config-changed) report_after 'push=skipped reason=config-changed' ;;
    *) echo "comp $name push=failed reason=$outcome" ;;
  esac
done
echo end
