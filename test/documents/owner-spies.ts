/**
 * Programs a config directory's owner runs beside a push, to show what it can do to the processes the
 * push starts as that owner (run in the step's own PID namespace, so they see the push's processes):
 * read their environment, and (with ptrace, allowed for a process of one's own uid where Yama's
 * ptrace_scope is 0 or absent, as on RHEL 7) make them print whatever it likes. Python 3, x86_64 Linux.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where Yama keeps its ptrace setting (absent without Yama: any process may trace its own uid's). */
export const YAMA_PTRACE_SCOPE = '/proc/sys/kernel/yama/ptrace_scope';

/**
 * Whether the spies that ptrace the writer can work here: they need an x86_64 machine (the injector
 * writes an x86_64 instruction) and Yama's ptrace_scope 0 or no Yama (RHEL 7's default), as the
 * owner attaches to a process it did not start. Elsewhere they are skipped, except in CI (CI=true)
 * where the reason is one the machine's root can fix: scope 1 or 2 in a writable setting, which
 * `sysctl -w kernel.yama.ptrace_scope=0` lowers. Then the test runs and fails with `problem`. Scope 3
 * (fixed until a reboot), a read-only /proc/sys (a container) or another architecture still skip.
 */
export function ptraceGate(
  env: NodeJS.ProcessEnv = process.env,
  arch: string = process.arch,
  yama: string = YAMA_PTRACE_SCOPE,
): { readonly skip: boolean; readonly label: string; readonly problem?: string } {
  let scope = 0;
  try {
    scope = Number(readFileSync(yama, 'utf8'));
  } catch {
    // No Yama: nothing beyond the uid check.
  }
  if (arch !== 'x64') return { skip: true, label: ` [skipped: arch ${arch}, it needs x64]` };
  if (scope === 0) return { skip: false, label: '' };
  const problem = `Yama's ptrace_scope is ${scope} (it needs 0): run \`sysctl -w kernel.yama.ptrace_scope=0\` as root`;
  if (env.CI === 'true' && scope < 3 && writable(yama))
    return { skip: false, label: ` [ptrace_scope ${scope}: fails in CI]`, problem };
  return { skip: true, label: ` [skipped: ptrace_scope ${scope}, it needs 0]` };
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where a spy writes what it found, on the simulated host (`/tmp`, the host's own). */
export const SPY_LOG = '/tmp/owner-spy.log';
const READY = '/tmp/owner-spy.ready';

/** `script` (a Linux step) with sh `lines` run as root, in the step's namespaces, before anything it does (under bash). */
export function withRootLines(script: string, lines: readonly string[]): string {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: bash text as it stands in the script
  const marker = '[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"\n';
  const at = script.indexOf(marker);
  if (at < 0)
    throw new Error('the step no longer starts by re-running itself with bash: teach withRootLines');
  return `${script.slice(0, at + marker.length)}${lines.join('\n')}\n${script.slice(at + marker.length)}`;
}

/** `script` (a Linux step) with `program` started as uid:gid before anything else it does (under bash). */
export function withOwnerSpy(script: string, program: string, owner = { uid: 1000, gid: 1000 }): string {
  const encoded = Buffer.from(program).toString('base64');
  return withRootLines(script, [
    `rm -f ${READY}`,
    `setpriv --reuid=${owner.uid} --regid=${owner.gid} --clear-groups -- /usr/bin/python3 -c "exec(__import__('base64').b64decode('${encoded}'))" >>${SPY_LOG} 2>&1 &`,
    `n=0; while [ ! -e ${READY} ] && [ $n -lt 200 ]; do n=$((n + 1)); sleep 0.05; done`,
  ]);
}

/** The spy's log on disk, for a host whose root directory is `hostRoot`. */
export function spyLogPath(hostRoot: string): string {
  return join(hostRoot, SPY_LOG);
}

const FIND_OWN_PROCESSES = `
import os, time
def own_processes(needle=b""):
    found = []
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == os.getpid():
            continue
        try:
            if os.stat("/proc/" + p).st_uid != os.getuid():
                continue
            if needle and needle not in open("/proc/" + p + "/cmdline", "rb").read():
                continue
            found.append(int(p))
        except OSError:
            pass
    return found
open("${READY}", "w").write("ready")
`;

/** For the spies that trace the push's writer: ptrace through libc, and the writer's top process. */
const FIND_WRITER = `${FIND_OWN_PROCESSES}
import ctypes, signal, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
def parent(pid):
    return int(open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[1])
def top_writer():
    # The writer's own bash, not one of the subshells it forks for $(...) (they share its command line).
    writers = own_processes(b"ktr-writer")
    for pid in writers:
        try:
            if parent(pid) not in writers:
                return pid
        except OSError:
            pass
    return None
`;

/**
 * Reads the environment of every process of the owner's uid it can, again and again, and logs each
 * `NAME=value` it sees once (one per line).
 */
export const ENVIRON_SPY = `${FIND_OWN_PROCESSES}
seen = set()
while True:
    for pid in own_processes():
        try:
            for var in open("/proc/%d/environ" % pid, "rb").read().split(b"\\0"):
                if var and var not in seen:
                    seen.add(var)
                    print(var.decode("utf-8", "replace"), flush=True)
        except OSError:
            pass
    time.sleep(0.0005)
`;

/**
 * Waits for the push's writer (`ktr-writer` on its command line), stops it, attaches with ptrace and makes
 * it write `forged` to its standard output (an x86_64 \`syscall\` put at its instruction pointer, single-
 * stepped), then kills it. Logs `injected <bytes>` or why it could not.
 */
export function injectorSpy(forged: string): string {
  return `${FIND_WRITER}
import struct
FORGED = bytes.fromhex("${Buffer.from(forged).toString('hex')}")
NAMES = "r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs eflags rsp ss fs_base gs_base ds es fs gs"
class Regs(ctypes.Structure):
    _fields_ = [(n, ctypes.c_ulonglong) for n in NAMES.split()]
PEEKTEXT, POKETEXT, POKEDATA, GETREGS, SETREGS, ATTACH, DETACH, SINGLESTEP = 1, 4, 5, 12, 13, 16, 17, 9
WALL = 0x40000000
deadline = time.time() + 60
pid = None
while pid is None and time.time() < deadline:
    pid = top_writer()
    if pid is None:
        time.sleep(0.0002)
        continue
    os.kill(pid, signal.SIGSTOP)
    if libc.ptrace(ATTACH, pid, None, None) != 0:
        print("attach to %d refused: errno %d" % (pid, ctypes.get_errno()), flush=True)
        os.kill(pid, signal.SIGCONT)
        pid = None
if pid is None:
    print("no writer could be attached", flush=True); sys.exit(0)
os.waitpid(pid, WALL)
regs = Regs()
libc.ptrace(GETREGS, pid, None, ctypes.byref(regs))
saved = Regs.from_buffer_copy(regs)
addr = (regs.rsp - 8192) & ~0xF
data = FORGED + b"\\0" * (-len(FORGED) % 8)
for i in range(0, len(data), 8):
    libc.ptrace(POKEDATA, pid, ctypes.c_void_p(addr + i), ctypes.c_void_p(struct.unpack("<Q", data[i:i + 8])[0]))
text = libc.ptrace(PEEKTEXT, pid, ctypes.c_void_p(regs.rip), None) & 0xFFFFFFFFFFFFFFFF
libc.ptrace(POKETEXT, pid, ctypes.c_void_p(regs.rip), ctypes.c_void_p((text & ~0xFFFF) | 0x050F))
regs.rax, regs.rdi, regs.rsi, regs.rdx, regs.orig_rax = 1, 1, addr, len(FORGED), 0xFFFFFFFFFFFFFFFF
libc.ptrace(SETREGS, pid, None, ctypes.byref(regs))
after = Regs()
# A stop still pending (the SIGSTOP sent before attaching) ends a step before any instruction ran.
for _ in range(5):
    libc.ptrace(SINGLESTEP, pid, None, None)
    os.waitpid(pid, WALL)
    libc.ptrace(GETREGS, pid, None, ctypes.byref(after))
    if after.rip != regs.rip:
        break
libc.ptrace(POKETEXT, pid, ctypes.c_void_p(saved.rip), ctypes.c_void_p(text))
libc.ptrace(SETREGS, pid, None, ctypes.byref(saved))
os.kill(pid, signal.SIGKILL)
libc.ptrace(DETACH, pid, None, None)
print("injected %d" % ctypes.c_longlong(after.rax).value, flush=True)
`;
}

/**
 * Watches for processes of its own uid (what root runs as the owner, e.g. the probe's config reader):
 * while one runs, config file `config` (as the host names it) is a symlink to /dev/zero, the real file
 * moved aside to `<config>.aside`; otherwise the real file is back. Root's lstat, made before it starts
 * the reader, sees a regular file; a reader that follows the link then reads zeros without end.
 */
export function zeroSwapperSpy(config: string): string {
  return `${FIND_OWN_PROCESSES}
CONFIG = "${config}"
ASIDE = CONFIG + ".aside"
print("swapping", flush=True)
linked = False
while True:
    try:
        reader = len(own_processes()) > 0
        if reader and not linked:
            os.rename(CONFIG, ASIDE)
            os.symlink("/dev/zero", CONFIG)
            linked = True
        elif linked and not reader:
            os.unlink(CONFIG)
            os.rename(ASIDE, CONFIG)
            linked = False
    except OSError:
        pass
    time.sleep(0.0001)
`;
}

/**
 * Holds the push's writer once its temp file holds the token: traces it (ptrace, following its forks) and
 * keeps everything stopped at the moment its `mv` has been exec'd but has not run an instruction, so the
 * temp file (`.registration_token.txt.*`, in the writer's working directory) is full and not yet renamed.
 * Event-driven, not timed: a busy machine only makes it slower. Logs `held` (then the test kills the
 * step, as a timeout or a cancel would), or `lost` and why.
 */
export const HOLD_WRITER_SPY = `${FIND_WRITER}
CONT, ATTACH, SETOPTIONS = 7, 16, 0x4200
# Follow fork, vfork, clone and exec; kill every tracee should this spy die first.
OPTIONS = 0x2 | 0x4 | 0x8 | 0x10 | 0x100000
EVENT_EXEC, WALL = 4, 0x40000000
def lost(why):
    print("lost: " + why, flush=True)
    sys.exit(0)
deadline = time.time() + 60
writer, refused = None, 0
while writer is None:
    writer = top_writer()
    # Refused (EPERM) while setpriv, having changed uid, has not yet exec'd bash: not dumpable until then.
    if writer is not None and libc.ptrace(ATTACH, writer, None, None) != 0:
        refused, writer = ctypes.get_errno(), None
    if writer is None:
        if time.time() > deadline:
            lost("no writer could be attached (last errno %d)" % refused)
        time.sleep(0.0002)
cwd = os.readlink("/proc/%d/cwd" % writer)
def filled():
    return any(n.startswith(".registration_token.txt.") and os.lstat(cwd + "/" + n).st_size > 0 for n in os.listdir(cwd))
configured = False
while True:
    pid, status = os.waitpid(-1, WALL)
    if not os.WIFSTOPPED(status):
        if pid == writer:
            lost("the writer ended before its mv")
        continue
    sig, event = os.WSTOPSIG(status), (status >> 16) & 0xFF
    if not configured and pid == writer:
        libc.ptrace(SETOPTIONS, writer, None, ctypes.c_void_p(OPTIONS))
        configured = True
    if event == EVENT_EXEC and open("/proc/%d/cmdline" % pid, "rb").read().startswith(b"mv\\0"):
        if not filled():
            lost("its mv ran with no full temp file")
        print("held", flush=True)
        while True:
            time.sleep(3600)
    # Stops of our own making (attach, a new child's first stop, events) pass on no signal; others go on.
    passed = 0 if event or sig in (signal.SIGSTOP, signal.SIGTRAP) else sig
    libc.ptrace(CONT, pid, None, ctypes.c_void_p(passed))
`;

/**
 * Python prelude of the spies below: waits (60 s at most) for `registration_token.txt` to appear in the
 * directory of config file `config` (as the host names it) and stops the writer there; `signal_held`
 * sends its processes a signal (SIGCONT lets them go on).
 */
function holdWriterAtFile(config: string): string {
  return `${FIND_OWN_PROCESSES}
import signal
CONFIG = "${config}"
FILE = CONFIG.rsplit("/", 1)[0] + "/registration_token.txt"
deadline = time.time() + 60
while not os.path.lexists(FILE) and time.time() < deadline:
    time.sleep(0.0001)
held = own_processes(b"ktr-writer")
def signal_held(sig):
    for pid in held:
        try:
            os.kill(pid, sig)
        except OSError:
            pass
signal_held(signal.SIGSTOP)
`;
}

/**
 * Takes `registration_token.txt` away the moment it appears in the directory of config file `config` (as
 * the host names it), holding the writer stopped meanwhile: with `consume`, as the component does (its
 * config saved with a new token first, then the file removed); without, as an owner who just removes it.
 * Logs `took`.
 */
export function takerSpy(config: string, consume: boolean): string {
  return `${holdWriterAtFile(config)}
if ${consume ? 'True' : 'False'}:
    os.utime(CONFIG)
os.unlink(FILE)
signal_held(signal.SIGCONT)
print("took", flush=True)
`;
}

/**
 * Tampers with `registration_token.txt` the moment it appears in the directory of config file `config` (as
 * the host names it), holding the writer stopped meanwhile, so that root's own look comes after: `swap`
 * renames over it a regular file of the owner's, mode 0600, of the same size but other bytes; `chmod`
 * makes it 0644. Logs `tampered`.
 */
export function tamperSpy(config: string, how: 'swap' | 'chmod'): string {
  return `${holdWriterAtFile(config)}
if "${how}" == "swap":
    size = os.lstat(FILE).st_size
    other = FILE + ".swap"
    fd = os.open(other, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, b"x" * (size - 1) + b"\\n")
    os.fchmod(fd, 0o600)
    os.close(fd)
    os.rename(other, FILE)
else:
    os.chmod(FILE, 0o644)
signal_held(signal.SIGCONT)
print("tampered", flush=True)
`;
}
