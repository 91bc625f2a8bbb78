/**
 * The `docker` command of a simulated host: a POSIX sh script that knows this host's Kasm
 * containers and whether each is running, and answers the read-only questions a probe asks.
 *
 * Supported: `docker inspect` / `docker container inspect` with `--format`/`-f` templates made of
 * `{{.State.Running}}`, `{{.State.Status}}`, `{{.Name}}`, `{{.Id}}`, `{{json .State}}` (or no
 * format: a JSON array), and `docker ps [-a] [-q] [--filter name=X] [--format '{{.Names}}' …]`.
 * An object that is not installed: `Error: No such object: NAME` on stderr, exit 1 (like docker).
 * Anything else: an explanatory message, exit 1.
 */
import { createHash } from 'node:crypto';
import { shellQuote } from './limiter.ts';

export interface ContainerState {
  readonly name: string;
  readonly running: boolean;
}

export function containerId(hostId: string, name: string): string {
  return createHash('sha256').update(`${hostId}/${name}`).digest('hex');
}

export function dockerStandIn(hostId: string, containers: readonly ContainerState[]): string {
  const cases = containers
    .map((c) => `    ${c.name}) echo ${c.running ? 'true' : 'false'} ${containerId(hostId, c.name)} ;;`)
    .join('\n');
  const names = containers.map((c) => c.name).join(' ');
  return `#!/bin/sh
# Stand-in for the docker CLI on simulated host ${hostId} (Kasm token reconciler proving ground).
# It knows this host's Kasm containers and whether each is running; nothing else.
ALL_CONTAINERS=${shellQuote(names)}

# prints "<running> <id>" for an installed container; fails for anything else
lookup() {
  case "$1" in
${cases}
    *) return 1 ;;
  esac
}

render() { # template name running id
  status=exited
  [ "$3" = true ] && status=running
  out=$(printf '%s' "$1" | sed \\
    -e "s/{{ *\\.State\\.Running *}}/$3/g" \\
    -e "s/{{ *\\.State\\.Status *}}/$status/g" \\
    -e "s/{{ *\\.State *}}/$status/g" \\
    -e "s#{{ *\\.Name *}}#/$2#g" \\
    -e "s/{{ *\\.Names *}}/$2/g" \\
    -e "s/{{ *\\.Id *}}/$4/g" \\
    -e "s/{{ *\\.ID *}}/$(printf '%.12s' "$4")/g" \\
    -e "s/{{ *json *\\.State *}}/{\\"Status\\":\\"$status\\",\\"Running\\":$3}/g")
  case "$out" in
    *'{{'*) echo "template not supported by the proving ground's docker stand-in: $1" >&2; exit 1 ;;
  esac
  printf '%s\\n' "$out"
}

need_value() {
  [ "$2" -ge 2 ] || { echo "flag needs an argument: $1" >&2; exit 125; }
}

inspect() { # kind args...
  kind=$1; shift
  fmt=''; names=''
  while [ $# -gt 0 ]; do
    case "$1" in
      -f|--format) need_value "$1" $#; fmt=$2; shift 2 ;;
      -f=*|--format=*) fmt=\${1#*=}; shift ;;
      --type) need_value "$1" $#; shift 2 ;;
      --type=*|-s|--size) shift ;;
      -*) echo "unknown flag: $1" >&2; exit 125 ;;
      *) names="$names $1"; shift ;;
    esac
  done
  [ -n "$names" ] || { echo "\\"docker inspect\\" requires at least 1 argument." >&2; exit 1; }
  rc=0; json=''
  for n in $names; do
    if found=$(lookup "$n"); then
      running=\${found% *}; id=\${found#* }
      if [ -n "$fmt" ]; then
        render "$fmt" "$n" "$running" "$id"
      else
        status=exited; [ "$running" = true ] && status=running
        item="{\\"Id\\": \\"$id\\", \\"Name\\": \\"/$n\\", \\"State\\": {\\"Status\\": \\"$status\\", \\"Running\\": $running}}"
        json="\${json:+$json, }$item"
      fi
    else
      echo "Error: No such $kind: $n" >&2
      rc=1
    fi
  done
  [ -n "$fmt" ] || printf '[%s]\\n' "$json"
  exit $rc
}

ps_cmd() {
  all=0; quiet=0; fmt=''; filter=''
  while [ $# -gt 0 ]; do
    case "$1" in
      -a|--all) all=1; shift ;;
      -q|--quiet) quiet=1; shift ;;
      --no-trunc) shift ;;
      --format) need_value "$1" $#; fmt=$2; shift 2 ;;
      --format=*) fmt=\${1#*=}; shift ;;
      -f|--filter) need_value "$1" $#; filter=$2; shift 2 ;;
      -f=*|--filter=*) filter=\${1#*=}; shift ;;
      *) echo "unknown flag or argument for docker ps: $1" >&2; exit 125 ;;
    esac
  done
  case "$filter" in
    ''|name=*) ;;
    *) echo "filter not supported by the proving ground's docker stand-in: $filter" >&2; exit 1 ;;
  esac
  [ -n "$fmt" ] || [ $quiet = 1 ] || echo 'CONTAINER ID   STATUS    NAMES'
  for n in $ALL_CONTAINERS; do
    found=$(lookup "$n")
    running=\${found% *}; id=\${found#* }
    [ $all = 1 ] || [ "$running" = true ] || continue
    case "$filter" in
      name=*) case "$n" in *"\${filter#name=}"*) ;; *) continue ;; esac ;;
    esac
    if [ $quiet = 1 ]; then printf '%.12s\\n' "$id"
    elif [ -n "$fmt" ]; then render "$fmt" "$n" "$running" "$id"
    else
      st='Exited (0)'; [ "$running" = true ] && st='Up'
      printf '%.12s   %-9s %s\\n' "$id" "$st" "$n"
    fi
  done
  exit 0
}

case "$1" in
  inspect) shift; inspect object "$@" ;;
  container)
    case "$2" in
      inspect) shift 2; inspect container "$@" ;;
      ls|list|ps) shift 2; ps_cmd "$@" ;;
    esac ;;
  ps) shift; ps_cmd "$@" ;;
esac
echo "docker $*: not supported by the proving ground's docker stand-in (inspect and ps only)" >&2
exit 1
`;
}
