# shellcheck shell=bash
# Functions common to the probe and the push documents, spliced into both by ssm-documents.ts:
# they read a component's state, never a secret.
# Bash 4.2 (Amazon Linux 2, RHEL 7) runs these: test/bash42-check.ts holds them to it.
#
# Kasm's config directories may belong to the unprivileged account Kasm runs as, who can swap any
# entry in them for a symlink at any moment. So nothing here reads, writes, chowns or chmods a file
# there by path as root: a function first pins the directory as its working directory (`cd -P`, so
# later path swaps above it change nothing), looks at entries with lstat (`stat` without -L), and
# reads or writes file content only as the directory's owner (setpriv), whose own permissions then
# apply to wherever a symlink points.

# Runs "$@" as uid:gid $1 $2 with no supplementary groups (root stays root). Input is inherited, so a
# secret reaches the command on standard input, never in its arguments or environment.
as_user() {
  local uid="$1" gid="$2"
  shift 2
  if [ "$uid" = 0 ] && [ "$gid" = 0 ]; then
    "$@"
  else
    setpriv --reuid="$uid" --regid="$gid" --clear-groups -- "$@"
  fi
}

# uid and gid of the working directory, e.g. "1000 1000"; fails for a root-owned directory that others
# may write in (nobody can be trusted to own its entries).
dir_owner() {
  local uid gid mode
  read -r uid gid mode < <(stat -c '%u %g %a' . 2>/dev/null) || return 1
  if [ "$uid" = 0 ] && [ $((8#$mode & 8#022)) -ne 0 ]; then return 1; fi
  echo "$uid $gid"
}

# What an entry of the working directory is, without following a symlink: absent, regular or other.
entry_kind() {
  local kind
  kind=$(stat -c %F -- "$1" 2>/dev/null) || { echo absent; return; }
  case "$kind" in "regular file" | "regular empty file") echo regular ;; *) echo other ;; esac
}

# Prints the token's header.payload (never the signature), or none / unreadable, from config file $1
# of the working directory, read by awk running as uid:gid $4 $5 (the directory's owner).
token_of() {
  local cfg="$1" section="$2" key="$3" raw
  # shellcheck disable=SC2016 # an awk program, run through as_user
  raw=$(as_user "$4" "$5" awk -v s="$section" -v k="$key" '
    $0 ~ "^" s ":" { insec = 1; next }
    insec && /^[^[:space:]#]/ { insec = 0 }
    !found && insec && $0 ~ "^[[:space:]]+" k ":" {
      sub("^[[:space:]]+" k ":[[:space:]]*", ""); sub(/[[:space:]]+#.*$/, ""); sub(/[[:space:]]+$/, "")
      gsub(/^["'\'']|["'\'']$/, ""); print; found = 1
    }' "$cfg" 2>/dev/null) || { echo unreadable; return; }
  case "$raw" in
    "" | null | "~") echo none ;;
    *)
      if [[ ${#raw} -le 8000 && $raw =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$ ]]; then
        echo "${raw%.*}"
      else
        echo unreadable
      fi
      ;;
  esac
}

running_of() {
  local state
  command -v docker >/dev/null 2>&1 || { echo unknown; return; }
  # Braces built at run time: SSM reads a literal double brace in document text as a parameter reference.
  local format='{''{.State.Running}''}'
  state=$(docker inspect --format "$format" "$1" 2>/dev/null) || { echo false; return; }
  case "$state" in true) echo true ;; *) echo false ;; esac
}

# Fields describing one installed component; empty when its config is absent. Call it in a subshell
# ($(describe ...)): it changes the working directory. One lstat call looks at the directory, the config
# and the registration file (a symlink's target is never looked at); only a regular registration file
# counts as waiting, anything else is for the push to report.
describe() {
  local dir="$1" file="$2" section="$3" key="$4" container="$5"
  local name kind uid gid mode mtime owner_uid='' owner_gid='' cfg=absent reg=absent token now
  cd -P -- "$dir" 2>/dev/null || return 1
  while IFS='|' read -r name kind uid gid mode mtime; do
    case "$kind" in "regular file" | "regular empty file") kind=regular ;; directory) ;; *) kind=other ;; esac
    if [ "$name" = . ]; then
      # A root-owned directory others may write in has no trustworthy owner: read nothing there.
      if [ "$kind" = directory ] && ! { [ "$uid" = 0 ] && [ $((8#$mode & 8#022)) -ne 0 ]; }; then
        owner_uid="$uid" owner_gid="$gid"
      fi
    elif [ "$name" = "$file" ]; then
      cfg="$kind"
    elif [ "$name" = "$REG_FILE" ] && [ "$kind" = regular ]; then
      printf -v now '%(%s)T' -1
      reg=$((now - mtime))
    fi
  done < <(stat -c '%n|%F|%u|%g|%a|%Y' -- . "$file" "$REG_FILE" 2>/dev/null)
  [ "$cfg" != absent ] || return 1
  if [ "$cfg" = regular ] && [ -n "$owner_uid" ]; then
    token=$(token_of "$file" "$section" "$key" "$owner_uid" "$owner_gid")
  else
    token=unreadable
  fi
  printf 'token=%s reg=%s running=%s' "$token" "$reg" "$(running_of "$container")"
}

# Succeeds when a parameter named in "$@" was not given: its SSM_ variable is empty or still holds the
# literal placeholder (an agent that neither set the variable nor spliced the value). The placeholder is
# built at run time: SSM reads a literal double brace in document text as a parameter reference.
parameters_missing() {
  local name var
  for name in "$@"; do
    var="SSM_$name"
    if [ -z "${!var:-}" ] || [ "${!var}" = '{''{'"$name"'}''}' ]; then return 0; fi
  done
  return 1
}

# Sealing keys: on tmpfs (gone at reboot), root-only, never older than this many seconds when used.
KEY_TTL=900

# The sealing keys' directory: created 0700, and used only when it is a real directory owned by root.
state_dir_ready() {
  [ -L "$STATE_DIR" ] && return 1
  [ -e "$STATE_DIR" ] || mkdir -m 0700 -- "$STATE_DIR" 2>/dev/null || return 1
  [ ! -L "$STATE_DIR" ] && [ -d "$STATE_DIR" ] && [ "$(stat -c %u -- "$STATE_DIR")" = 0 ] || return 1
  chmod 0700 -- "$STATE_DIR"
}

# Removes sealing keys older than their TTL, and every key an earlier version kept on persistent disk.
remove_stale_keys() {
  if [ -d "$STATE_DIR" ] && [ ! -L "$STATE_DIR" ] && [ "$(stat -c %u -- "$STATE_DIR")" = 0 ]; then
    find -P "$STATE_DIR" -maxdepth 1 -type f -name 'seal-*' -mmin +$((KEY_TTL / 60)) -delete 2>/dev/null
  fi
  if [ -d "$LEGACY_STATE_DIR" ] && [ ! -L "$LEGACY_STATE_DIR" ] && [ "$(stat -c %u -- "$LEGACY_STATE_DIR")" = 0 ]; then
    find -P "$LEGACY_STATE_DIR" -maxdepth 1 -type f -name 'seal-*' -delete 2>/dev/null
    rmdir -- "$LEGACY_STATE_DIR" 2>/dev/null
  fi
  return 0
}
