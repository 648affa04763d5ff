#!/usr/bin/env bash
# bench/start.sh — warm start-up benchmark: `box run --rm IMAGE true` vs
# podman, ch-run and bwrap on the same Alpine rootfs. Not a test; never run
# in CI.
#
# WHAT IT MEASURES
#   Wall time of one warm container start (image already in the store, the
#   workload is `true`), as unprivileged users, per tool:
#     box        box --config F --root STORE run --rm --network none REF true
#     podman     podman --root R --runroot RR --runtime runc run --rm
#                --network none REF true    (rootless, native overlay)
#     ch-run     ch-run ROOTFS -- true       (charliecloud; the user's own
#                unpacked copy of the image)
#     bwrap      bwrap --unshare-all --bind ROOTFS / --proc /proc --dev /dev true
#     go-hello   a static Go binary whose main is empty (the floor for any Go
#                program: runtime start and exit)
#     box-version  box version (box's own start + exit, no container)
#     box-tmpfs  box as above with --root on a tmpfs (/dev/shm): the same run
#                without the store's file system (box creates and deletes a
#                dozen files and directories per --rm run)
#   as two users: BENCH_USER (default boxsub; has /etc/subuid and /etc/subgid
#   ranges, so box maps 65536 ids with newuidmap/newgidmap) and BENCH_NOSUB_USER (default boxnosub; no range, box maps only
#   0 -> uid). podman needs subordinate ids, so it runs as the first only.
#   The image is the Alpine 3.20.3 minirootfs (ALPINE_TARBALL), pushed once
#   to a private docker-registry on 127.0.0.1:BENCH_PORT with bench/mkimage.
#
#   Timing: a small Python harness runs AS the user (no setpriv/env in the
#   timed path) and times posix_spawn -> wait4 with a monotonic clock;
#   stdout goes to /dev/null, stderr to a file that is shown on failure (any
#   non-zero exit stops the script). One round = one run of every tool for
#   each user; the tool order rotates every round and the user order
#   alternates. WARMUP rounds (default 5) are run first and not counted.
#   Reported per tool and user: median, p10, p90, min, and median CPU
#   (user+sys of the process and the children it reaped; podman's conmon
#   double-forks away, so podman's CPU is undercounted).
#
#   Profile of box (after the rounds, PROFILE_RUNS runs per user, default 30):
#     - --debug stage timings (host: prepared, init started, container exited,
#       container removed; init: spec read, mounts done, exec) -> medians
#     - a kernel trace of each run (tracefs: fork/exec/exit events, a
#       handful of syscalls, and uprobes at the entry of box's own functions
#       in box-sym, the same build with its symbol table kept; no ptrace),
#       cut into phases from execve of box to its exit -> medians. This is
#       the "where the milliseconds go" table.
#     - strace -f -c (and -f -c -w) of one run; strace runs as root with -u
#       USER so that the setuid newuidmap/newgidmap still work under it
#     - GODEBUG=inittrace=1: per box process, when main's init ran and how
#       long package initialisers took
#
# HOW TO RUN
#   sudo bash bench/start.sh [ROUNDS]          # ROUNDS defaults to 60
#   Environment: BENCH_DIR (work dir, default /var/tmp/box-start-bench),
#   BENCH_USER (default boxsub), BENCH_NOSUB_USER (default boxnosub),
#   BENCH_PORT (registry port, default 45502), WARMUP (default 5),
#   PROFILE_RUNS (default 30, with BOX_B 0; 0 skips the profile),
#   ALPINE_TARBALL (default
#   /work/shared/images/alpine-minirootfs-3.20.3-x86_64.tar.gz), BOX_BIN
#   (the box to time instead of one built from this work tree; for a
#   profile it must keep its symbol table), BOX_B (see A/B below).
#   Results: $BENCH_DIR/results/<timestamp>/ — runs.tsv (every timed run),
#   summary.md (printed at the end), profile.*.
#
# A/B OF TWO BOX BINARIES
#   With BOX_B set, the rounds time box A (BOX_BIN, or built from the work
#   tree) and box B (BOX_B) instead of the tools above: box, box-version and
#   box-tmpfs of each (B's named box@B, ...), each binary with stores of its
#   own, A's three and then B's in every round; the order rotates every
#   round, so each of A's runs follows B's run of the tool before it and
#   vice versa (a multiple of 6 rounds makes each come first equally often).
#   The summary gives, per user and tool, both medians, B / A and the median
#   of B − A within a round. E.g. the last commit against the work tree:
#     mkdir /tmp/box-old && git archive HEAD | tar -x -C /tmp/box-old
#     (cd /tmp/box-old && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /tmp/box-old/box .)
#     CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /tmp/box-new .
#     sudo BOX_BIN=/tmp/box-old/box BOX_B=/tmp/box-new bash bench/start.sh 60
#
# WHAT IT NEEDS
#   Root (set-up, tracefs and strace only; every timed run is the user's),
#   Go >= 1.26 at /usr/local/go/bin, Debian 12 with its apt mirror reachable
#   for missing packages (podman, runc, charliecloud, bubblewrap, uidmap,
#   docker-registry, strace, python3, curl), the two users above (the first
#   with /etc/subuid and /etc/subgid ranges, the second without), unprivileged
#   user namespaces, and the Alpine tarball.
#   podman runs with runc: this machine's cgroup layout is hybrid (v1
#   controllers plus a unified hierarchy with hugetlb enabled) and crun 1.8
#   refuses it ("cgroups in hybrid mode not supported").
#
# NOTES
#   box is built twice (release flags for timing; symbols kept for the
#   uprobes) from one snapshot of the work tree, so both are the same code
#   (bench/lib.sh, box_binaries; only once with PROFILE_RUNS=0).
#   The machine is shared: the summary prints the load average seen during
#   the rounds. On an ext4 without a journal (this machine's root) file
#   creation slows down after many recent deletions (fs/ext4/ialloc.c,
#   recently_deleted), so tools that create and delete files per run (box,
#   podman) slow each other down; box-tmpfs shows box without that, and the
#   profile starts after `sync` and a 6 s pause.
#
# CLEAN-UP
#   On exit (also on error or ^C) the script stops its registry and the
#   rootless pause process its podman runs started, resets the tracing it
#   enabled (and unmounts tracefs if it mounted it), and deletes the stores,
#   rootfs copies and registry data under $BENCH_DIR. Only
#   $BENCH_DIR/results and the mkimage blob cache are kept.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/bench/lib.sh"
alpine_settings /var/tmp/box-start-bench 45502 "${1:-}"
# An A/B run compares timings; a profile (of A) only when asked for.
PROFILE_RUNS=${PROFILE_RUNS:-$([[ -n $BOX_B ]] && echo 0 || echo 30)}
[[ $PROFILE_RUNS =~ ^[0-9]+$ ]] || die "PROFILE_RUNS must be a number, not '$PROFILE_RUNS'"

# --- packages ---------------------------------------------------------------
install_missing podman:podman runc:runc ch-run:charliecloud bwrap:bubblewrap newuidmap:uidmap docker-registry:docker-registry strace:strace python3:python3 curl:curl setpriv:util-linux

# --- work dir and clean-up --------------------------------------------------
results_dir
U=$BENCH_DIR/u # per user: U/NAME/{box,podman,rootfs,run,...}
SHM=/dev/shm/box-start-bench.$$ # per user: SHM/NAME/box, a store on tmpfs

REG_PID=
TRACEFS=
TRACEFS_MOUNTED=
UPROBES_SET=()
cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	if [[ -n $TRACEFS ]]; then
		echo 0 >"$TRACEFS/tracing_on"
		echo >"$TRACEFS/set_event"
		echo >"$TRACEFS/set_event_pid"
		echo 0 >"$TRACEFS/options/event-fork"
		echo 0 >"$TRACEFS/options/record-tgid"
		echo local >"$TRACEFS/trace_clock"
		echo >"$TRACEFS/trace"
		for ev in "${UPROBES_SET[@]}"; do echo "-:boxbench/$ev" >>"$TRACEFS/uprobe_events"; done
		[[ -n $TRACEFS_MOUNTED ]] && umount "$TRACEFS"
	fi
	stop_registry_and_pause "$U/$SUB_USER/run/libpod/tmp/pause.pid"
	rm_work_dirs
	rm -rf "$SHM"
	((rc == 0)) || printf 'start.sh: failed (exit %s); partial results in %s\n' "$rc" "$RES" >&2
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
work_dirs

# uhome, user_env and as_user USER CMD... (run CMD as USER with a clean
# environment) are in bench/lib.sh.

# --- binaries ---------------------------------------------------------------
# BOX, BOXB (BOX_B) and BOXSYM, the same code as BOX with symbols for the
# uprobes of the profile (bench/lib.sh).
box_binaries "$( ((PROFILE_RUNS == 0)) || echo "the profile's uprobes")"
HELLO=$BENCH_DIR/bin/go-hello
mkdir -p "$BENCH_DIR/bin/hello-src"
printf 'package main\n\nfunc main() {}\n' >"$BENCH_DIR/bin/hello-src/main.go"
printf 'module hello\n\ngo 1.26\n' >"$BENCH_DIR/bin/hello-src/go.mod"
(cd "$BENCH_DIR/bin/hello-src" && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$HELLO" .) ||
	die "cannot build the Go hello binary"
chmod 755 "$HELLO"

# --- rootfs -----------------------------------------------------------------
alpine_rootfs
for u in "${USERS[@]}"; do
	# ch-run and bwrap run on the user's own copy, as charliecloud's
	# ch-image would leave it (owned by the user).
	cp -a "$ROOTFS" "$U/$u/rootfs"
	chown -R "$u:$u" "$U/$u/rootfs"
done

# --- registry and image -----------------------------------------------------
serve_image "$ROOTFS"

# --- tool configuration and pulls ---------------------------------------------
for u in "${USERS[@]}"; do
	tool_configs "$u"
	mkdir -p "$SHM/$u"
	chown "$u:$u" "$SHM/$u"
	chmod 700 "$SHM/$u"
	while IFS= read -r v; do
		say "box$v pull as $u"
		box_pull "$u" "$v" "$U/$u/box$v" "box$v"
		box_pull "$u" "$v" "$SHM/$u/box$v" "box-tmpfs$v"
	done < <(box_variants)
done
podman_ready

# --- the commands -------------------------------------------------------------
# cmds USER: the tools for USER, one per line as a JSON array [name, argv...];
# with BOX_B, only box's, each also as box B's (named NAME@B).
cmds() {
	local u=$1 d=$U/$1
	python3 - "$u" "$d" "$BOX" "$REF" "$HELLO" "$(command -v podman)" "$(command -v ch-run)" \
		"$(command -v bwrap)" "$([[ $u == "$SUB_USER" ]] && echo 1 || echo 0)" "$SHM/$u" "$BOXB" <<'EOF'
import json, sys
u, d, box, ref, hello, podman, chrun, bwrap, sub, shm, boxb = sys.argv[1:]

def boxes(v, box):
    """box's tools, their names and stores with the suffix v."""
    return [[f"box{v}", box, "--config", f"{d}/box.toml", "--root", f"{d}/box{v}", "run", "--rm", "--network", "none", ref, "true"],
            [f"box-version{v}", box, "version"],
            [f"box-tmpfs{v}", box, "--config", f"{d}/box.toml", "--root", f"{shm}/box{v}", "run", "--rm", "--network", "none", ref, "true"]]

a = boxes("", box)
if boxb:
    # A's tools, then B's in the same order: rotated every round, each of
    # A's runs follows the B run of the tool before it, and vice versa.
    tools = a + boxes("@B", boxb)
else:
    tools = [a[0]]
    if sub == "1":
        tools.append(["podman", podman, "--root", f"{d}/podman/root", "--runroot", f"{d}/podman/runroot",
                      "run", "--rm", "--network", "none", ref, "true"])
    tools += [
        ["ch-run", chrun, f"{d}/rootfs", "--", "true"],
        ["bwrap", bwrap, "--unshare-all", "--bind", f"{d}/rootfs", "/", "--proc", "/proc", "--dev", "/dev", "true"],
        ["go-hello", hello],
        a[1],
        a[2],
    ]
for t in tools:
    print(json.dumps(t))
EOF
}
write_cmds

# Sanity: every tool runs the image's own userland.
for u in "${USERS[@]}"; do
	while IFS= read -r line; do
		name=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])[0])' "$line")
		[[ $name == go-hello || $name == box-version* ]] && continue
		mapfile -t argv < <(python3 -c 'import json,sys; a=json.loads(sys.argv[1])[1:]; a[-1]="cat"; a.append("/etc/alpine-release"); print("\n".join(a))' "$line")
		out=$(as_user "$u" "${argv[@]}" 2>"$RES/sanity.err") ||
			die "$name as $u failed: $(tail -5 "$RES/sanity.err")"
		[[ $out == 3.20.3 ]] || die "$name as $u printed '$out', not the image's /etc/alpine-release (3.20.3)"
	done <"$U/$u/cmds.jsonl"
done
say "sanity: every tool sees Alpine 3.20.3"

# --- timing (bench/lib.sh, bench/timer.py) -----------------------------------
timed_rounds

# --- profile of box -----------------------------------------------------------
# box_argv USER: box's timed command line for USER (one word a line).
box_argv() { python3 -c 'import json,sys; print("\n".join(json.loads(open(sys.argv[1]).readline())[1:]))' "$U/$1/cmds.jsonl"; }

if ((PROFILE_RUNS > 0)); then
	# This machine's ext4 has no journal, and ext4 then skips recently
	# deleted inodes when it allocates one (fs/ext4/ialloc.c,
	# recently_deleted: 5 s, or 300 s while the inode table block is dirty),
	# so the file churn of the rounds slows the next runs' creates. Flush
	# and wait it out before profiling.
	sync
	sleep 6
	# 1. --debug stage timings.
	say "profile: --debug stage timings, $PROFILE_RUNS runs per user"
	for u in "${USERS[@]}"; do
		mapfile -t argv < <(box_argv "$u")
		: >"$RES/profile.debug.$u.txt"
		for i in $(seq "$PROFILE_RUNS"); do
			as_user "$u" "${argv[0]}" --debug "${argv[@]:1}" >/dev/null 2>"$RES/profile.debug.tmp" ||
				die "box --debug as $u failed: $(tail -5 "$RES/profile.debug.tmp")"
			{
				echo "--- run $i"
				cat "$RES/profile.debug.tmp"
			} >>"$RES/profile.debug.$u.txt"
		done
	done
	rm -f "$RES/profile.debug.tmp"

	# 2. GODEBUG=inittrace=1: Go runtime and package init cost per box process.
	say "profile: GODEBUG=inittrace=1, $PROFILE_RUNS runs per user"
	for u in "${USERS[@]}"; do
		mapfile -t argv < <(box_argv "$u")
		: >"$RES/profile.inittrace.$u.txt"
		for i in $(seq "$PROFILE_RUNS"); do
			echo "--- run $i" >>"$RES/profile.inittrace.$u.txt"
			as_user "$u" env GODEBUG=inittrace=1 "${argv[@]}" >/dev/null 2>>"$RES/profile.inittrace.$u.txt" ||
				die "box with inittrace as $u failed"
		done
		: >"$RES/profile.inittrace-hello.$u.txt"
		for i in $(seq "$PROFILE_RUNS"); do
			echo "--- run $i" >>"$RES/profile.inittrace-hello.$u.txt"
			as_user "$u" env GODEBUG=inittrace=1 "$HELLO" 2>>"$RES/profile.inittrace-hello.$u.txt" ||
				die "go-hello with inittrace as $u failed"
		done
	done

	# 3. strace -f -c. As root with -u so setuid helpers keep working.
	say "profile: strace -f -c"
	for u in "${USERS[@]}"; do
		mapfile -t argv < <(box_argv "$u")
		mapfile -t env < <(user_env "$u")
		for mode in c cw; do
			flags=(-f -c)
			[[ $mode == cw ]] && flags+=(-w)
			# run from a directory the user can read (box records its cwd)
			(cd "$U/$u" && env -i "${env[@]}" strace -u "$u" "${flags[@]}" -o "$RES/profile.strace-$mode.$u.txt" "${argv[@]}") \
				>/dev/null 2>"$RES/profile.strace.err" || die "strace of box as $u failed: $(tail -5 "$RES/profile.strace.err")"
		done
	done
	rm -f "$RES/profile.strace.err"

	# 4. Kernel trace of fork/exec/exit and a few syscalls, cut into phases.
	TRACEFS=/sys/kernel/tracing
	if [[ ! -e $TRACEFS/trace ]]; then
		mount -t tracefs nodev "$TRACEFS" || die "cannot mount tracefs at $TRACEFS"
		TRACEFS_MOUNTED=1
	fi
	T=$TRACEFS
	[[ -e $T/events/syscalls/sys_enter_mount ]] || die "no syscall tracepoints in $T (kernel without CONFIG_FTRACE_SYSCALLS?)"
	echo 0 >"$T/tracing_on"
	echo >"$T/set_event"
	echo mono >"$T/trace_clock"
	echo 4096 >"$T/buffer_size_kb"
	echo 1 >"$T/options/event-fork"
	echo 1 >"$T/options/record-tgid"
	# uprobes at the entry of box's own functions (in box-sym, the same code
	# with a symbol table), so the trace shows where each step begins.
	# Entry probes only: return probes do not mix with Go's moving stacks.
	[[ -e $T/uprobe_events ]] || die "no uprobe_events in $T (kernel without CONFIG_UPROBE_EVENTS?)"
	UPROBES=(
		u_rt_main runtime.main
		u_main_main main.main
		u_runcmd_run 'main.(*runCmd).Run'
		u_run_run github.com/box-run/box/run.Run
		u_prestart github.com/box-run/box/run/prestart.speculative
		u_userns_begin github.com/box-run/box/userns.Begin
		u_pid1_init github.com/box-run/box/run/pid1.init.0
		u_setup_rootfs github.com/box-run/box/run/pid1.setupRootfs
		u_mount_dev github.com/box-run/box/run/pid1.mountDev
		u_exec_workload github.com/box-run/box/run/pid1.execWorkload
		u_ct_remove github.com/box-run/box/run.Containers.Remove
	)
	syms=()
	for ((k = 1; k < ${#UPROBES[@]}; k += 2)); do syms+=("${UPROBES[k]}"); done
	mapfile -t offs < <(python3 - "$BOXSYM" "${syms[@]}" <<'PYEOF'
import struct, subprocess, sys
path, names = sys.argv[1], sys.argv[2:]
h = open(path, "rb").read(1 << 16)
assert h[:4] == b"\x7fELF" and h[4] == 2, "not a 64-bit ELF file"
phoff = struct.unpack_from("<Q", h, 0x20)[0]
phentsize, phnum = struct.unpack_from("<HH", h, 0x36)
segs = []
for i in range(phnum):
    typ, _, off, vaddr, _, filesz, _, _ = struct.unpack_from("<IIQQQQQQ", h, phoff + i * phentsize)
    if typ == 1:  # PT_LOAD
        segs.append((vaddr, off, filesz))
addr = {}
for l in subprocess.run(["go", "tool", "nm", path], capture_output=True, text=True, check=True).stdout.splitlines():
    f = l.split(None, 2)
    if len(f) == 3 and f[1] == "T":
        addr[f[2]] = int(f[0], 16)
for n in names:
    a = addr[n]
    print(hex(next(a - v + o for v, o, sz in segs if v <= a < v + sz)))
PYEOF
	) || die "cannot find box's function offsets in $BOXSYM"
	((${#offs[@]} == ${#syms[@]})) || die "found ${#offs[@]} of ${#syms[@]} function offsets in $BOXSYM"
	for ((k = 0; k < ${#UPROBES[@]}; k += 2)); do
		echo "p:boxbench/${UPROBES[k]} $BOXSYM:${offs[k / 2]}" >>"$T/uprobe_events" ||
			die "cannot add uprobe ${UPROBES[k]} (${UPROBES[k + 1]})"
		UPROBES_SET+=("${UPROBES[k]}")
	done
	for e in sched:sched_process_fork sched:sched_process_exec sched:sched_process_exit \
		syscalls:sys_enter_clone syscalls:sys_exit_clone syscalls:sys_enter_clone3 syscalls:sys_exit_clone3 \
		syscalls:sys_enter_symlinkat syscalls:sys_enter_mount syscalls:sys_enter_fsopen \
		syscalls:sys_enter_pivot_root syscalls:sys_exit_umount syscalls:sys_exit_waitid \
		syscalls:sys_enter_unshare syscalls:sys_exit_unshare \
		syscalls:sys_exit_wait4 syscalls:sys_enter_renameat syscalls:sys_enter_renameat2 \
		syscalls:sys_enter_exit_group syscalls:sys_enter_execve boxbench:*; do
		echo "$e" >>"$T/set_event"
	done
	say "profile: kernel trace, $PROFILE_RUNS runs per user"
	for u in "${USERS[@]}"; do
		sync
		sleep 6
		mapfile -t argv < <(box_argv "$u")
		argv[0]=$BOXSYM
		mapfile -t env < <(user_env "$u")
		: >"$RES/profile.ftrace.$u.txt"
		for i in $(seq "$PROFILE_RUNS"); do
			echo >"$T/trace"
			t0=$EPOCHREALTIME
			# The shell traces itself and what it execs (setpriv -> env -> box).
			(cd "$U/$u" && sh -c 'echo $$ >"$0/set_event_pid" && echo 1 >"$0/tracing_on" && exec "$@"' "$T" \
				setpriv --reuid="$u" --regid="$u" --init-groups env -i "${env[@]}" "${argv[@]}") >/dev/null 2>"$RES/profile.ftrace.err" ||
				die "traced box run as $u failed: $(tail -5 "$RES/profile.ftrace.err")"
			t1=$EPOCHREALTIME
			echo 0 >"$T/tracing_on"
			{
				echo "--- run $i wall_ms $(python3 -c "print(f'{($t1-$t0)*1e3:.3f}')")"
				cat "$T/trace"
			} >>"$RES/profile.ftrace.$u.txt"
		done
	done
	rm -f "$RES/profile.ftrace.err"
fi

# --- summary ------------------------------------------------------------------
machine_txt 1 "" "charliecloud=$(USER=root ch-run --version 2>&1 | head -1)" "bubblewrap=$(bwrap --version | cut -d' ' -f2)"

PYTHONPATH="$REPO/bench" python3 - "$RES" "$ROUNDS" "$WARMUP" "$SUB_USER" "$NOSUB_USER" "$PROFILE_RUNS" "$([[ -n $BOXB ]] && echo 1 || echo 0)" >"$RES/summary.md" <<'EOF'
import collections, json, re, statistics, sys
from benchstats import load_runs, med, print_ab, print_load, print_machine, print_runs, q
res, rounds, warmup, sub, nosub, prof, ab = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6]), sys.argv[7] == "1"
users = [sub, nosub]

print_machine(res)
by, cpu = load_runs(res)
if ab:
    print_ab(res, users, ["box", "box-tmpfs", "box-version"],
             f"A/B: warm start, `true` ({rounds} interleaved rounds after {warmup} warm-up rounds; wall ms)")
    M = {(u, "box"): med(by[(u, "box")]) for u in users}
    print_load(res)
else:
    order = ["box", "box-tmpfs", "podman", "ch-run", "bwrap", "go-hello", "box-version"]
    print(f"## Warm start, `true` ({rounds} interleaved rounds after {warmup} warm-up rounds; wall ms)\n")
    M = print_runs(by, cpu, users, order)
    print("## Ratios of medians\n")
    print("| user | box run | podman / box | box / ch-run | box / bwrap | box / go-hello |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for u in users:
        for bt in ("box", "box-tmpfs"):
            b = M[(u, bt)]
            pod = M.get((u, "podman"))
            ps = f"{pod / b:.1f}×" if pod else f"({M[(sub, 'podman')] / b:.1f}× vs podman as {sub})"
            print(f"| {u} | {bt} | {ps} | {b / M[(u, 'ch-run')]:.2f}× | {b / M[(u, 'bwrap')]:.2f}× | {b / M[(u, 'go-hello')]:.2f}× |")
    print()
    print_load(res)
    print("## Targets\n")
    for u in users:
        b = M[(u, "box")]
        pod = M.get((u, "podman"), M[(sub, "podman")])
        t1 = "met" if b <= 10 else "NOT met"
        t2 = "met" if pod / b >= 20 else "NOT met"
        note = "" if (u, "podman") in M else f" (podman as {sub}; podman cannot run without subordinate ids)"
        print(f"- {u}: box median {b:.2f} ms ≤ 10 ms: **{t1}**; podman/box {pod / b:.1f}× ≥ 20×: **{t2}**{note}")
        bt = M[(u, "box-tmpfs")]
        print(f"  - with the store on tmpfs: {bt:.2f} ms ({'met' if bt <= 10 else 'NOT met'}); podman/box {pod / bt:.1f}× ({'met' if pod / bt >= 20 else 'NOT met'})")
    print()

if prof == 0:
    sys.exit(0)

# --- --debug stage timings
def dur(s):
    m = re.fullmatch(r"([\d.]+)(ns|µs|us|ms|s)", s)
    if not m:
        return float("nan")
    return float(m.group(1)) * {"ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)]

print(f"## box --debug stage timings (medians of {prof} runs, ms)\n")
print("Host times: `prepared` counts from main's package init (runtime start not included), "
      "the others from the start of run.Run. Init times count from the init process's own start "
      "(its last exec).\n")
keys = ["prepared (since main init)", "init started (since Run)", "container exited (since Run)", "container removed (took)",
        "init: spec read", "init: mounts done", "init: exec"]
print("| stage | " + " | ".join(users) + " |")
print("| --- | " + " | ".join("---:" for _ in users) + " |")
vals = {}
for u in users:
    d = collections.defaultdict(list)
    for l in open(f"{res}/profile.debug.{u}.txt"):
        m = re.search(r'msg=("[^"]+"|\S+) (?:\S+=\S+ )*(since_exec|elapsed|took)=(\S+)', l)
        if m:
            msg = m.group(1).strip('"')
            k = {"prepared": keys[0], "init started": keys[1], "container exited": keys[2], "container removed": keys[3]}.get(msg)
            if k:
                d[k].append(dur(m.group(3)))
        m = re.match(r"box init: (.+?)\s+(\S+)$", l.strip())
        if m:
            d["init: " + m.group(1)].append(dur(m.group(2)))
    vals[u] = d
for k in keys:
    print(f"| {k} | " + " | ".join(f"{med(vals[u][k]):.2f}" for u in users) + " |")
print()

# --- inittrace
print(f"## Go runtime + package init per process (GODEBUG=inittrace=1, medians of {prof} runs)\n")
print("`inits done at` is when the last package initialiser finished (main's, when it has one), counted "
      "from the runtime's start: runtime set-up plus every package initialiser, i.e. when main.main can begin. "
      "`init clock` is the sum of the initialisers' own times.\n")
print("| user | process | inits done at (ms) | init clock (ms) | init allocs |")
print("| --- | --- | ---: | ---: | ---: |")
for u in users:
    for kind in ("box", "hello"):
        f = f"{res}/profile.inittrace.{u}.txt" if kind == "box" else f"{res}/profile.inittrace-hello.{u}.txt"
        runs = open(f).read().split("--- run ")[1:]
        per = collections.defaultdict(lambda: collections.defaultdict(list))
        for r in runs:
            procs = []
            for l in r.splitlines():
                # Two processes write to one stderr: a line can come out
                # garbled, and is left out.
                m = re.fullmatch(r"init (\S+) @(\d+(?:\.\d+)?) ms, (\d+(?:\.\d+)?) ms clock, (\d+) bytes, (\d+) allocs", l)
                if not m:
                    continue
                at = float(m.group(2))
                if m.group(1) == "internal/bytealg" or not procs:
                    procs.append({"clock": 0.0, "allocs": 0, "main": 0.0, "last": 0.0})
                    p = procs[-1]
                else:
                    # The prestarted init runs its initialisers while box
                    # still runs its own, and both write to one stderr: a
                    # line belongs to the process whose clock (each counts
                    # from its own start) it continues most closely.
                    fits = [q for q in procs if q["last"] <= at]
                    p = max(fits, key=lambda q: q["last"]) if fits else procs[-1]
                p["last"] = at
                p["clock"] += float(m.group(3))
                p["allocs"] += int(m.group(5))
                p["main"] = max(p["main"], float(m.group(2)) + float(m.group(3)))
            for i, p in enumerate(procs):
                per[i]["main"].append(p["main"])
                per[i]["clock"].append(p["clock"])
                per[i]["allocs"].append(p["allocs"])
        names = ["host (box run)", "init", "init (re-exec)"] if kind == "box" else ["go-hello"]
        for i in sorted(per):
            name = names[i] if i < len(names) else f"process {i}"
            print(f"| {u} | {name} | {med(per[i]['main']):.2f} | {med(per[i]['clock']):.2f} | {med(per[i]['allocs']):.0f} |")
print()

# --- strace
print("## strace -f -c (one run each; system time, and -w wall time, per syscall)\n")
for u in users:
    for mode in ("c", "cw"):
        lines = open(f"{res}/profile.strace-{mode}.{u}.txt").read().splitlines()
        body = [l for l in lines if re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+", l) and not l.strip().endswith("total")]
        total = [l for l in lines if l.strip().endswith("total")]
        print(f"{u}, strace -f -{mode} (top 8 by time):\n")
        print("```")
        for l in lines[:2]:
            print(l)
        for l in body[:8]:
            print(l)
        for l in total:
            print(l)
        print("```\n")
        if mode == "c":
            print(f"{u}, top 8 by number of calls:\n")
            print("```")
            for l in sorted(body, key=lambda l: -int(l.split()[3]))[:8]:
                print(l)
            print("```\n")

# --- kernel trace phases
pat = re.compile(r"^\s*(.+?)-(\d+)\s+\(\s*(\d+|-+)\)\s+\[\d+\]\s+\S+\s+([\d.]+):\s+([a-z_0-9]+):?\s*(.*)$")
def phases(text):
    """Marks (ms from the exec of box) of one traced run, or None."""
    ev = []
    for l in text.splitlines():
        m = pat.match(l)
        if m:
            tg = int(m.group(3)) if m.group(3).isdigit() else int(m.group(2))
            ev.append((int(m.group(2)), tg, float(m.group(4)) * 1e3, m.group(5), m.group(6)))
    host = e0 = None
    for pid, tg, ts, name, rest in ev:
        if name == "sched_process_exec" and rest.split()[0].startswith("filename=") and "/box" in rest.split()[0]:
            host, e0 = pid, ts
            break
    if host is None:
        return None
    P = {"E0": 0.0}
    for pid, tg, ts, name, rest in ev:  # the execve(2) call that became box
        if pid == host and name == "sys_execve" and ts <= e0:
            P["exec_enter"] = ts - e0
    init = None
    clone_enter = {}
    execs = collections.defaultdict(list)
    helpers, forks, exits = [], {}, {}
    iprobes = collections.defaultdict(list)
    for pid, tg, ts, name, rest in ev:
        t = ts - e0
        if t < 0:
            continue
        if name == "sched_process_fork":
            m = re.search(r"child_pid=(\d+)", rest)
            if m:
                forks[int(m.group(1))] = t
        elif name == "sched_process_exit":
            exits[pid] = t
        elif name == "sched_process_exec":
            fn = rest.split()[0][len("filename="):]
            execs[pid].append((t, fn))
            if "newuidmap" in fn or "newgidmap" in fn:
                helpers.append(pid)
        if tg == host:
            if name.startswith("u_") and name not in P:
                P[name] = t
            elif name in ("sys_clone", "sys_clone3") and not rest.startswith("->"):
                m = re.search(r"clone_flags: (0x[0-9a-f]+)", rest)
                if name == "sys_clone3" or (m and int(m.group(1), 16) & 0x10000000):
                    clone_enter[pid] = t
            elif name in ("sys_clone", "sys_clone3") and rest.startswith("->") and pid in clone_enter and init is None:
                init = int(rest.split()[1], 16)
                P["clone_enter"], P["clone_exit"] = clone_enter.pop(pid), t
            elif name in ("sys_waitid", "sys_wait4") and "init_exit" in P and "wait_ret" not in P:
                P["wait_ret"] = t
            elif name == "sys_exit_group" and "u_ct_remove" in P and "exit_group" not in P:
                P["exit_group"] = t
            elif name == "sched_process_exit" and pid == host:
                P["host_exit"] = t
        if init is not None and tg == init:
            if name.startswith("u_"):
                iprobes[name].append(t)
            elif name == "sys_pivot_root":
                P["pivot"] = t
            elif name == "sys_unshare":
                P.setdefault("unshare_exit" if rest.startswith("->") else "unshare_enter", t)
            elif name == "sched_process_exit" and pid == init:
                P["init_exit"] = t
    if init is None:
        return None
    ex = execs.get(init, [])
    selfexe = [t for t, fn in ex if fn == "/proc/self/exe"]
    work = [t for t, fn in ex if fn != "/proc/self/exe"]
    if not selfexe or not work:
        return None
    P["init_exec1"], P["init_exec_last"], P["workload_exec"] = selfexe[0], selfexe[-1], work[0]
    P["n_init_execs"] = len(selfexe)
    for k, ts in iprobes.items():
        last = [t for t in ts if t >= selfexe[-1]]
        if last:
            P["i" + k] = last[0]  # in the last image of init
        first = [t for t in ts if t < selfexe[-1]]
        if first:
            P["i1" + k] = first[0]  # in init #1 (re-executed afterwards)
    if helpers:
        P["helpers_first_fork"] = min(forks.get(h, float("nan")) for h in helpers)
        P["helpers_last_exit"] = max(exits.get(h, float("nan")) for h in helpers)
    P["late_box_execs"] = sum(1 for pid, l in execs.items() for t, fn in l if fn == "/proc/self/exe" and pid != init)
    return P

print(f"## Where the milliseconds go: kernel trace (tracefs), medians of {prof} runs, ms\n")
print("One traced run is cut at kernel events (execve, clone, exec of init, pivot_root, exec and exit of the "
      "workload, the host's wait, exit) and at uprobes on the entry of box's own functions (runtime.main, "
      "main.main, prestart.speculative, runCmd.Run, run.Run, userns.Begin, setupRootfs, mountDev, execWorkload, Containers.Remove). "
      "The traced binary is the same build with its symbol table kept (box-sym). No ptrace; a handful of events "
      "per run. Each phase is the median over the runs, so the phases need not add up exactly to the total.\n")
spans = [
    ("host: execve(2) of box (kernel loads the static binary)", "exec_enter", "E0"),
    ("host: Go runtime start (to runtime.main)", "E0", "u_rt_main"),
    ("host: package initialisers until package prestart's (runtime.main → prestart)", "u_rt_main", "u_prestart"),
    ("host: prestart: id mapping, pipes and sockets, os/exec until clone(2)", "u_prestart", "clone_enter"),
    ("clone(2) of init: new user, mount, pid, uts, ipc namespaces (not the network's: init makes it)", "clone_enter", "clone_exit"),
    ("host: the other package initialisers, beside init's start (clone → main.main)", "clone_exit", "u_main_main"),
    ("host: CLI parsing, kong (main.main → runCmd.Run)", "u_main_main", "u_runcmd_run"),
    ("host: prepare: open store, image lookup, config, id mapping, spec (→ run.Run)", "u_runcmd_run", "u_run_run"),
    ("host: run.Run: the container's directory and record, the spec, until init mounts (→ init's setupRootfs)", "u_run_run", "iu_setup_rootfs"),
    ("id maps (single mapping) + execve of init", "clone_exit", "init_exec1"),
    ("subuid: newuidmap + newgidmap, at once, beside init's start (first fork → last exit)", "helpers_first_fork", "helpers_last_exit"),
    ("init: Go runtime start (exec → runtime.main)", "init_exec_last", "iu_rt_main"),
    ("init: package initialisers until pid1's, which runs the stage (runtime.main → pid1 init)", "iu_rt_main", "iu_pid1_init"),
    ("init: wait for the spec, read it (pid1 init → setupRootfs)", "iu_pid1_init", "iu_setup_rootfs"),
    ("  beside it, on another thread: unshare(2) of the network namespace", "unshare_enter", "unshare_exit"),
    ("init: make / private, overlay mount, /proc, /sys (→ mountDev)", "iu_setup_rootfs", "iu_mount_dev"),
    ("init: /dev (tmpfs, 6 binds, devpts, shm, mqueue), /etc binds, hostname (→ pivot_root)", "iu_mount_dev", "pivot"),
    ("init: pivot_root, detach old root, user, caps (→ execWorkload)", "pivot", "iu_exec_workload"),
    ("init: execve of the workload", "iu_exec_workload", "workload_exec"),
    ("workload `true` runs and exits", "workload_exec", "init_exit"),
    ("namespace teardown until the host's wait returns", "init_exit", "wait_ret"),
    ("host: after wait until removal starts (Containers.Remove)", "wait_ret", "u_ct_remove"),
    ("host: --rm removal (→ exit_group)", "u_ct_remove", "exit_group"),
    ("host: process exit (exit_group → exit)", "exit_group", "host_exit"),
]
tabs = {}
for u in users:
    runs = open(f"{res}/profile.ftrace.{u}.txt").read().split("--- run ")[1:]
    tabs[u] = [p for p in (phases(r.partition("\n")[2]) for r in runs) if p]
    tabs[u + "#runs"] = len(runs)
print("| phase | " + " | ".join(users) + " |")
print("| --- | " + " | ".join("---:" for _ in users) + " |")
for label, a, b in spans:
    cells = []
    for u in users:
        xs = [p[b] - p[a] for p in tabs[u] if a in p and b in p]
        cells.append(f"{med(xs):.2f}" if xs else "–")
    print(f"| {label} | " + " | ".join(cells) + " |")
cells = []
for u in users:
    xs = [p["host_exit"] - p.get("exec_enter", 0.0) for p in tabs[u] if "host_exit" in p]
    cells.append(f"**{med(xs):.2f}**")
print("| **execve of box → exit of box (traced)** | " + " | ".join(cells) + " |")
print("| untraced wall, timed rounds (for comparison) | " + " | ".join(f"{M[(u, 'box')]:.2f}" for u in users) + " |")
print("| traced runs parsed | " + " | ".join(f"{len(tabs[u])}/{tabs[u + '#runs']}" for u in users) + " |")
print()
for u in users:
    print(f"- {u}: init execs per run: {med([p['n_init_execs'] for p in tabs[u]]):.0f}; "
          f"re-executions of box other than init (e.g. a remove stage): {med([p['late_box_execs'] for p in tabs[u]]):.0f}")
EOF
cat "$RES/summary.md"
say "results in $RES"
