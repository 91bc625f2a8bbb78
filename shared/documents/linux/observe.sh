# shellcheck shell=bash
# Functions shared by the probe and the push: read a component's state, never a secret.
# Prints the token's header.payload (never the signature), or none / unreadable.
token_of() {
  local cfg="$1" section="$2" key="$3" raw
  raw=$(awk -v s="$section" -v k="$key" '
    $0 ~ "^" s ":" { insec = 1; next }
    insec && /^[^[:space:]#]/ { insec = 0 }
    insec && $0 ~ "^[[:space:]]+" k ":" {
      sub("^[[:space:]]+" k ":[[:space:]]*", ""); sub(/[[:space:]]+#.*$/, ""); sub(/[[:space:]]+$/, "")
      gsub(/^["'\'']|["'\'']$/, ""); print; exit
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

# Seconds since the registration file was written, or absent.
registration_age() {
  local f="$1/$REG_FILE" mtime
  if [ -e "$f" ]; then
    mtime=$(stat -c %Y "$f" 2>/dev/null) || { echo 0; return; }
    echo $(( $(date +%s) - mtime ))
  else
    echo absent
  fi
}

running_of() {
  local state
  command -v docker >/dev/null 2>&1 || { echo unknown; return; }
  # Braces built at run time: SSM reads a literal double brace in document text as a parameter reference.
  local format='{''{.State.Running}''}'
  state=$(docker inspect --format "$format" "$1" 2>/dev/null) || { echo false; return; }
  case "$state" in true) echo true ;; *) echo false ;; esac
}

# Fields describing one installed component; empty when its config is absent.
describe() {
  local dir="$1" file="$2" section="$3" key="$4" container="$5"
  [ -f "$dir/$file" ] || return 1
  printf 'token=%s reg=%s running=%s' \
    "$(token_of "$dir/$file" "$section" "$key")" "$(registration_age "$dir")" "$(running_of "$container")"
}
