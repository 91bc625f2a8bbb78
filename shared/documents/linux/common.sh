# shellcheck shell=bash
# Functions common to the probe and the push documents, spliced into both by ssm-documents.ts:
# they read a component's state, never a secret.
# Bash 4.2 (Amazon Linux 2, RHEL 7) runs these: test/bash42-check.ts holds them to it.
#
# Kasm's config directories may belong to the unprivileged account Kasm runs as, who can swap any
# entry in them for a symlink, a FIFO or a mount at any moment. So nothing here writes, chowns or
# chmods a file there by path as root: a function first pins the directory as its working directory
# (`cd -P`, so later path swaps above it change nothing), looks at entries with lstat (`stat` without
# -L), and writes or reads file content as the directory's owner (as_owner), whose own permissions
# then apply to wherever a symlink points. The owner can trace, stop or signal its own processes, so
# root believes nothing they print beyond what it checks itself, and waits for none of them for long.

# What an owner's process may use: a fixed PATH, and nothing else of root's environment.
OWNER_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# Longest root waits for one process of the owner's (reading a config, writing the file, sweeping).
OWNER_SECONDS=10
# Most of a config file that is read: Kasm's are a few kilobytes.
CONFIG_MAX_BYTES=1048576
# statfs type of FUSE (fuse and fuseblk): a file system its owner may have mounted over a directory
# it owns (fusermount), answering whatever it likes about the entries, their owners included.
FUSE_MAGIC=65735546
# How long a step waits for the host's lock (another run's step holding it to check and write).
LOCK_SECONDS=10

# Runs "$@" as uid $1 with group $2 and no supplementary groups, with a clean environment (env -i: the
# owner can read its processes' /proc/<pid>/environ), no standard error and not the host lock's
# descriptor, killed (by root's timeout) after OWNER_SECONDS. Root (uid 0) runs it as itself. Standard
# input is inherited: a secret reaches the command there, never in its arguments or environment.
as_owner() {
  local uid="$1" gid="$2"
  shift 2
  if [ "$uid" = 0 ]; then
    timeout -s KILL "$OWNER_SECONDS" env -i PATH="$OWNER_PATH" "$@" 2>/dev/null 9>&-
  else
    timeout -s KILL "$OWNER_SECONDS" env -i PATH="$OWNER_PATH" \
      setpriv --reuid="$uid" --regid="$gid" --clear-groups -- "$@" 2>/dev/null 9>&-
  fi
}

# Reads standard input for root, bounded: at most $1 bytes, for at most OWNER_SECONDS (one of the
# owner's processes may hold the other end open forever).
bounded_read() {
  timeout -s KILL "$OWNER_SECONDS" head -c "$1"
}

# The owner uid of the working directory; fails for a root-owned directory that others may write in
# (nobody can be trusted to own its entries).
dir_uid() {
  local uid mode
  read -r uid mode < <(stat -c '%u %a' . 2>/dev/null) || return 1
  if [ "$uid" = 0 ] && [ $((8#$mode & 8#022)) -ne 0 ]; then return 1; fi
  echo "$uid"
}

# The group the owner uid $1 runs with: its own primary group in the host's accounts (root: 0). Fails for
# a uid with no account, or whose primary group is root's: the directory's own group may be one its owner
# is not in (root's, handed over with the directory), and must never come with the owner's processes.
group_of() {
  local gid
  if [ "$1" = 0 ]; then
    echo 0
    return
  fi
  gid=$(getent passwd "$1" 2>/dev/null | cut -d: -f4)
  [[ $gid =~ ^[0-9]+$ ]] && [ "$gid" != 0 ] || return 1
  echo "$gid"
}

# Whether the working directory is on a FUSE file system (see FUSE_MAGIC), or one that will not even say
# what it is (a FUSE server may fail statfs): nothing is read or placed there.
on_user_mount() {
  local type
  type=$(stat -f -c %t . 2>/dev/null) || return 0
  [ "$type" = "$FUSE_MAGIC" ]
}

# What an entry of the working directory is, without following a symlink: absent, regular or other.
entry_kind() {
  local kind
  kind=$(stat -c %F -- "$1" 2>/dev/null) || { echo absent; return; }
  case "$kind" in "regular file" | "regular empty file") echo regular ;; *) echo other ;; esac
}

# Prints the token's header.payload (never the signature), or none / unreadable, from config file $1 of the
# working directory, read as uid:gid $4 $5 (the directory's owner) with dd: no symlink followed, no FIFO or
# device waited on (O_NONBLOCK), at most CONFIG_MAX_BYTES. Nothing read (a FIFO swapped in) is unreadable.
token_of() {
  local cfg="$1" section="$2" key="$3" raw
  # shellcheck disable=SC2016 # an awk program
  raw=$(as_owner "$4" "$5" dd if="./$cfg" iflag=nofollow,nonblock,fullblock bs="$CONFIG_MAX_BYTES" count=1 status=none |
    timeout -s KILL "$OWNER_SECONDS" awk -v s="$section" -v k="$key" '
    { seen = 1 }
    $0 ~ "^" s ":" { insec = 1; next }
    insec && /^[^[:space:]#]/ { insec = 0 }
    !found && insec && $0 ~ "^[[:space:]]+" k ":" {
      sub("^[[:space:]]+" k ":[[:space:]]*", ""); sub(/[[:space:]]+#.*$/, ""); sub(/[[:space:]]+$/, "")
      gsub(/^["'\'']|["'\'']$/, ""); print; found = 1
    }
    END { if (!seen) print "<nothing-read>" }') || { echo unreadable; return; }
  case "$raw" in
    "<nothing-read>") echo unreadable ;;
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
  local state status
  command -v docker >/dev/null 2>&1 || { echo unknown; return; }
  # Braces built at run time: SSM reads a literal double brace in document text as a parameter reference.
  local format='{''{.State.Running}''}'
  # Bounded: a wedged Docker daemon costs the probe OWNER_SECONDS a container, not its whole timeout.
  state=$(timeout -s KILL "$OWNER_SECONDS" docker inspect --format "$format" "$1" 2>/dev/null)
  status=$?
  [ "$status" = 137 ] && { echo unknown; return; }
  [ "$status" = 0 ] || { echo false; return; }
  case "$state" in true) echo true ;; *) echo false ;; esac
}

# Fields describing one installed component; empty when its config is absent. Call it in a subshell
# ($(describe ...)): it changes the working directory. One lstat call looks at the directory, the config
# and the registration file (a symlink's target is never looked at); only a regular registration file
# counts as waiting, anything else is for the push to report. A config in a directory with no trustworthy
# owner, or on FUSE, is not read: its token is unreadable.
describe() {
  local dir="$1" file="$2" section="$3" key="$4" container="$5"
  local name kind uid mode mtime owner_uid='' owner_gid cfg=absent reg=absent token=unreadable now
  cd -P -- "$dir" 2>/dev/null || return 1
  while IFS='|' read -r name kind uid mode mtime; do
    case "$kind" in "regular file" | "regular empty file") kind=regular ;; directory) ;; *) kind=other ;; esac
    if [ "$name" = . ]; then
      # A root-owned directory others may write in has no trustworthy owner: read nothing there.
      if [ "$kind" = directory ] && ! { [ "$uid" = 0 ] && [ $((8#$mode & 8#022)) -ne 0 ]; }; then
        owner_uid="$uid"
      fi
    elif [ "$name" = "$file" ]; then
      cfg="$kind"
    elif [ "$name" = "$REG_FILE" ] && [ "$kind" = regular ]; then
      printf -v now '%(%s)T' -1
      reg=$((now - mtime))
    fi
  done < <(stat -c '%n|%F|%u|%a|%Y' -- . "$file" "$REG_FILE" 2>/dev/null)
  [ "$cfg" != absent ] || return 1
  if [ "$cfg" = regular ] && [ -n "$owner_uid" ] && ! on_user_mount && owner_gid=$(group_of "$owner_uid"); then
    token=$(token_of "$file" "$section" "$key" "$owner_uid" "$owner_gid")
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

# Whether the state directory is usable: a real directory (no link) owned by root.
state_dir_safe() {
  [ ! -L "$STATE_DIR" ] && [ -d "$STATE_DIR" ] && [ "$(stat -c %u -- "$STATE_DIR")" = 0 ]
}

# The sealing keys' directory: created 0700, and used only when it is a real directory owned by root.
state_dir_ready() {
  [ -L "$STATE_DIR" ] && return 1
  [ -e "$STATE_DIR" ] || mkdir -m 0700 -- "$STATE_DIR" 2>/dev/null || return 1
  state_dir_safe || return 1
  chmod 0700 -- "$STATE_DIR"
}

# Takes the host's lock: flock on the state directory itself (no lock file to plant or hold elsewhere),
# on descriptor 9, which no process of an owner's ever gets (as_owner closes it). Steps of overlapping runs
# check and write one at a time; a step killed while holding it lets go with its descriptors.
take_host_lock() {
  state_dir_safe && exec 9<"$STATE_DIR" && flock -w "$LOCK_SECONDS" 9
}

release_host_lock() {
  exec 9<&-
}

# Removes sealing keys older than their TTL, and every key an earlier version kept on persistent disk.
remove_stale_keys() {
  if state_dir_safe; then
    find -P "$STATE_DIR" -maxdepth 1 -type f -name 'seal-*' -mmin +$((KEY_TTL / 60)) -delete 2>/dev/null
  fi
  if [ -d "$LEGACY_STATE_DIR" ] && [ ! -L "$LEGACY_STATE_DIR" ] && [ "$(stat -c %u -- "$LEGACY_STATE_DIR")" = 0 ]; then
    find -P "$LEGACY_STATE_DIR" -maxdepth 1 -type f -name 'seal-*' -delete 2>/dev/null
    rmdir -- "$LEGACY_STATE_DIR" 2>/dev/null
  fi
  return 0
}

# Removes what a step killed half-way (SIGKILL: the run's timeout or cancel; no EXIT trap runs) can have
# left: a key a push had claimed or a probe was still writing, and the writer's temp files next to each
# config, which may hold the token. Called with the host's lock held (or with no state directory, when no
# push can be writing: a push writes only with its claimed key in there), so nothing of a live step goes.
sweep_leftovers() {
  local row name rel rest
  if state_dir_safe; then rm -f -- "$STATE_DIR"/seal-*.key.used "$STATE_DIR"/seal-*.key.tmp; fi
  for row in "${COMPONENTS[@]}"; do
    IFS='|' read -r name rel rest <<<"$row"
    (sweep_dir "$ROOT/$rel")
  done
  return 0
}

# Removes the writer's temp files (`.registration_token.txt.XXXXXX`) from one config directory, as its owner.
# Call it in a subshell: it changes the working directory.
sweep_dir() {
  local uid gid
  cd -P -- "$1" 2>/dev/null || return 0
  ! on_user_mount && uid=$(dir_uid) && gid=$(group_of "$uid") || return 0
  [ "$uid" = 0 ] || command -v setpriv >/dev/null 2>&1 || return 0
  as_owner "$uid" "$gid" find . -maxdepth 1 -name ".$REG_FILE.??????" -type f -delete </dev/null >/dev/null
}
