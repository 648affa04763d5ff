#!/usr/bin/env bash
# bench/exec.sh — `box exec C true` latency vs `podman exec C true` into a
# running detached container, and the memory an idle detached container
# costs (box's monitor and init; podman's conmon and slirp4netns). Not a
# test; never run in CI.
#
# WHAT IT MEASURES
#   1. Wall time of one exec of `true` into an already running detached
#      container, as unprivileged users, per case:
#        box-slirp  box --config F --root STORE exec exec-slirp true
#                   (container: box run -d --name exec-slirp REF sleep 100000,
#                   the default network, slirp)
#        box-none   box ... exec exec-none true
#                   (container: box run -d --network none --name exec-none ...)
#        podman     podman --root R --runroot RR exec exec-podman true
#                   (container: podman run -d --name exec-podman REF sleep
#                   100000; rootless, runc, cgroupfs, native overlay, its
#                   default network slirp4netns)
#        box-version  box version: a reference, not a target — one start and
#                   exit of the box binary without touching a store or a
#                   container, the floor under any box command
#      as two users: BENCH_USER (default boxsub; has /etc/subuid and
#      /etc/subgid ranges) and BENCH_NOSUB_USER (default boxnosub; none, so
#      box maps only 0 -> uid). podman needs subordinate ids, so it runs as
#      the first only. The image is the Alpine 3.20.3 minirootfs
#      (ALPINE_TARBALL), pushed once to a private docker-registry on
#      127.0.0.1:BENCH_PORT with bench/mkimage.
#
#      Timing (as in bench/start.sh): a small Python harness runs AS the user
#      (no setpriv/env in the timed path) and times posix_spawn -> wait4 with
#      a monotonic clock; stdin and stdout are /dev/null, stderr goes to a
#      file that is shown on failure (any non-zero exit stops the script).
#      One round = one run of every case for each user; the case order
#      rotates every round and the user order alternates. WARMUP rounds
#      (default 5) come first and are not counted. Reported per case and
#      user: median, p10, p90, min, median CPU (user+sys of the process and
#      the children it reaped: podman's conmon and runc run outside its
#      children, so podman's CPU is undercounted), and the ratio podman / box
#      of the medians.
#
#   2. Memory of the idle detached containers, read as root from /proc:
#      VmRSS, RssAnon, RssFile (/proc/PID/status) and Pss, Pss_Anon
#      (/proc/PID/smaps_rollup) of every process of each container:
#        box     the monitor (`monitor` in `box inspect`, the parent of init;
#                for the slirp container it also runs the netstack), the
#                container's init (`pid` in `box inspect`; it stays as PID 1
#                of detached containers to serve exec) and the workload
#                (sleep, init's child); the script checks those relations
#        podman  conmon (State.ConmonPid), the workload (State.Pid, no init
#                in between), slirp4netns (the one whose command line names
#                the container's network namespace) and the rootless pause
#                process (shared by all of the user's podman containers)
#      Taken twice: IDLE_SECS (default 2) seconds after the last container
#      started, before any exec; and again IDLE_SECS after the timed rounds
#      (the monitors have then been idle for the whole run; init has served
#      every exec). Pss divides pages shared between processes (the box
#      binary's text is mapped by both the monitor and init) among them.
#
# HOW TO RUN
#   sudo bash bench/exec.sh [ROUNDS]           # ROUNDS defaults to 60
#   Environment: BENCH_DIR (work dir, default /var/tmp/box-exec-bench),
#   BENCH_USER (default boxsub), BENCH_NOSUB_USER (default boxnosub),
#   BENCH_PORT (registry port, default 45503), WARMUP (default 5),
#   IDLE_SECS (default 2), ALPINE_TARBALL (default
#   /work/shared/images/alpine-minirootfs-3.20.3-x86_64.tar.gz), BOX_BIN
#   (the box to time instead of one built from this work tree), BOX_B (see
#   A/B below).
#   Results: $BENCH_DIR/results/<timestamp>/ — runs.tsv (every timed run),
#   rss.tsv (every process measured), inspect.*.json, load.txt, machine.txt,
#   summary.md (printed at the end).
#
# A/B OF TWO BOX BINARIES
#   With BOX_B set, each user also runs box B's (BOX_B) two detached
#   containers, in a store of its own, beside box A's (BOX_BIN, or built
#   from the work tree), and the rounds time box-slirp, box-none and
#   box-version of each (B's named box-slirp@B, ...) instead of the cases
#   above: A's three and then B's in every round, the order rotated every
#   round, so each of A's runs follows B's run of the case before it and
#   vice versa (a multiple of 6 rounds makes each come first equally often).
#   The summary gives, per user and case, both medians, B / A and the median
#   of B − A within a round, and the memory of both boxes' containers (B's
#   named exec-slirp@B, ...). Building the two binaries: see bench/start.sh.
#     sudo BOX_BIN=/tmp/box-old/box BOX_B=/tmp/box-new bash bench/exec.sh 60
#
# WHAT IT NEEDS
#   Root (set-up and reading /proc only; every box and podman command runs as
#   one of the two users, through setpriv with a clean environment), Go >=
#   1.26 at /usr/local/go/bin, Debian 12 with its apt mirror reachable for
#   missing packages (podman, runc, conmon, slirp4netns, uidmap,
#   docker-registry, python3, curl), the two users above, unprivileged user
#   namespaces, and the Alpine tarball. podman runs with runc (crun 1.8
#   refuses this machine's hybrid cgroups, see bench/start.sh).
#
# NOTES
#   The set-up (users, box build from a snapshot of the work tree, rootfs,
#   registry, image push, podman configuration, as_user), the timing harness
#   and the summary's tables are bench/start.sh's, shared in bench/lib.sh,
#   bench/timer.py and bench/benchstats.py.
#   The machine is shared: the summary prints the load average seen during
#   the rounds.
#
# CLEAN-UP
#   On exit (also on error or ^C) the script removes its containers (box rm
#   -f, podman rm -f; if box rm fails, it kills the monitor and init pids it
#   recorded), stops the rootless pause process its podman started and its
#   registry, and deletes the stores and registry data under $BENCH_DIR. Only
#   $BENCH_DIR/results and the mkimage blob cache are kept.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/bench/lib.sh"
alpine_settings /var/tmp/box-exec-bench 45503 "${1:-}"
IDLE_SECS=${IDLE_SECS:-2}
[[ $IDLE_SECS =~ ^[0-9]+$ ]] || die "IDLE_SECS must be a number, not '$IDLE_SECS'"
BOX_CTS=(exec-slirp exec-none) # box's containers, per user (and per box with BOX_B)
PODMAN_CT=exec-podman

# --- packages ---------------------------------------------------------------
install_missing podman:podman runc:runc conmon:conmon slirp4netns:slirp4netns newuidmap:uidmap docker-registry:docker-registry python3:python3 curl:curl setpriv:util-linux

# --- work dir and clean-up --------------------------------------------------
results_dir
U=$BENCH_DIR/u # per user: U/NAME/{box,podman,run,...}

REG_PID=
STARTED=()    # "user container[@B]" of every box container this script started
KILL_PIDS=()  # their monitors and inits, "pid starttime", for a failed box rm
PODMAN_STARTED=
cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	local uc u c v
	for uc in "${STARTED[@]}"; do
		u=${uc% *} c=${uc#* }
		v=${c#"${c%@B}"} c=${c%@B}
		timeout 30 setpriv --reuid="$u" --regid="$u" --init-groups env -i HOME="$(getent passwd "$u" | cut -d: -f6)" \
			USER="$u" PATH="$PATH" XDG_RUNTIME_DIR="$U/$u/run" \
			"$(box_bin "$v")" --config "$U/$u/box.toml" --root "$U/$u/box$v" rm -f "$c" >/dev/null 2>>"$RES/cleanup.log" ||
			echo "box$v rm -f $c as $u failed" >>"$RES/cleanup.log"
	done
	# Anything box rm left behind: only the very processes this script
	# started (same pid and start time), still running 2 s after box rm. A
	# monitor that exited stays a zombie until the machine's pid 1 reaps it
	# (box's CLI does not wait for it); zombies are left alone.
	local ps p st i alive
	for i in $(seq 20); do
		alive=
		for ps in "${KILL_PIDS[@]}"; do
			p=${ps% *} st=${ps#* }
			[[ $(awk '{print $3, $22}' "/proc/$p/stat" 2>/dev/null) == "Z $st" ]] && continue
			[[ $(awk '{print $22}' "/proc/$p/stat" 2>/dev/null) == "$st" ]] && alive+=" $p"
		done
		[[ -z $alive ]] && break
		if ((i == 20)); then
			for p in $alive; do
				echo "killing leftover pid $p ($(cat "/proc/$p/comm" 2>/dev/null))" >>"$RES/cleanup.log"
				kill -KILL "$p"
			done
		fi
		sleep 0.1
	done
	if [[ -n $PODMAN_STARTED ]]; then
		timeout 60 setpriv --reuid="$SUB_USER" --regid="$SUB_USER" --init-groups env -i \
			HOME="$(getent passwd "$SUB_USER" | cut -d: -f6)" USER="$SUB_USER" PATH="$PATH" \
			XDG_RUNTIME_DIR="$U/$SUB_USER/run" CONTAINERS_STORAGE_CONF="$U/$SUB_USER/storage.conf" \
			CONTAINERS_CONF="$U/$SUB_USER/containers.conf" \
			podman --root "$U/$SUB_USER/podman/root" --runroot "$U/$SUB_USER/podman/runroot" rm -f -t 0 "$PODMAN_CT" \
			>/dev/null 2>>"$RES/cleanup.log" || echo "podman rm -f $PODMAN_CT failed" >>"$RES/cleanup.log"
	fi
	stop_registry_and_pause "$U/$SUB_USER/run/libpod/tmp/pause.pid"
	sleep 0.5
	rm_work_dirs
	((rc == 0)) || printf 'exec.sh: failed (exit %s); partial results in %s\n' "$rc" "$RES" >&2
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
work_dirs

# uhome, user_env and as_user USER CMD... (run CMD as USER with a clean
# environment) are in bench/lib.sh.
# box_as V USER ARGS...: box variant V (bench/lib.sh box_variants: "" or @B)
# with USER's config and the variant's store.
box_as() {
	local v=$1 u=$2
	shift 2
	as_user "$u" "$(box_bin "$v")" --config "$U/$u/box.toml" --root "$U/$u/box$v" "$@"
}
podman_as() { as_user "$SUB_USER" "${PODMAN[@]}" "$@"; }
# box_record V USER NAME: the container's own record in its store (box's
# fields, the monitor's pid among them, which docker's inspect shape lacks),
# as a one-element JSON list.
box_record() {
	local d="$U/$2/box$1/containers" id
	id=$(readlink "$d/names/$3") || return
	printf '['
	cat "$d/$id/container.json" || return
	printf ']'
}

# --- binaries ---------------------------------------------------------------
box_binaries # BOX, BOXB (BOX_B) and MKIMAGE, bench/lib.sh
mapfile -t VARIANTS < <(box_variants)

# --- rootfs, registry and image ---------------------------------------------
alpine_rootfs
serve_image "$ROOTFS"

# --- tool configuration and pulls ---------------------------------------------
for u in "${USERS[@]}"; do
	tool_configs "$u"
	for v in "${VARIANTS[@]}"; do
		say "box$v pull as $u"
		box_pull "$u" "$v" "$U/$u/box$v" "box$v"
	done
done
podman_ready

# --- the detached containers --------------------------------------------------
# starttime PID: field 22 of /proc/PID/stat (clock ticks after boot).
starttime() { awk '{print $22}' "/proc/$1/stat"; }
for u in "${USERS[@]}"; do
	for v in "${VARIANTS[@]}"; do
		for c in "${BOX_CTS[@]}"; do
			net=()
			[[ $c == exec-none ]] && net=(--network none)
			say "box$v run -d ${net[*]} --name $c as $u"
			STARTED+=("$u $c$v")
			box_as "$v" "$u" run -d "${net[@]}" --name "$c" "$REF" sleep 100000 >"$RES/run.$u.$c$v.log" 2>&1 ||
				die "box$v run -d --name $c as $u failed: $(tail -5 "$RES/run.$u.$c$v.log")"
			box_record "$v" "$u" "$c" >"$RES/inspect.$u.$c$v.json" 2>"$RES/inspect.err" ||
				die "box$v's record of $c as $u: $(cat "$RES/inspect.err")"
			read -r mon init st < <(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))[0]; print(c.get("monitor", 0), c.get("pid", 0), c["status"])' "$RES/inspect.$u.$c$v.json")
			[[ $st == running ]] || die "$c$v as $u is $st after box run -d"
			((mon > 0 && init > 0)) || die "box$v inspect $c gives no monitor or init pid (monitor=$mon pid=$init)"
			KILL_PIDS+=("$mon $(starttime "$mon")" "$init $(starttime "$init")")
		done
	done
done
rm -f "$RES/inspect.err"
say "podman run -d --name $PODMAN_CT as $SUB_USER"
PODMAN_STARTED=1
podman_as run -d --name "$PODMAN_CT" "$REF" sleep 100000 >"$RES/run.podman.log" 2>&1 ||
	die "podman run -d failed: $(tail -5 "$RES/run.podman.log")"
podman_as inspect "$PODMAN_CT" >"$RES/inspect.podman.json" 2>"$RES/inspect.err" ||
	die "podman inspect failed: $(cat "$RES/inspect.err")"
rm -f "$RES/inspect.err"

# --- memory of the idle containers ----------------------------------------------
RSSPY=$BENCH_DIR/bin/rss.py
cat >"$RSSPY" <<'EOF'
# rss.py RES PHASE USER... : appends one line per process of every container
# (box: monitor, init, workload of each container in $BOX_CTS, with
# RES/inspect.USER.CONTAINER.json; podman: conmon, workload, slirp4netns,
# pause) to RES/rss.tsv. Fails if the process tree is not what it should be.
import glob, json, os, sys
res, phase, users = sys.argv[1], sys.argv[2], sys.argv[3:]
sub = users[0]

def stat(pid):
    s = open(f"/proc/{pid}/stat").read()
    rest = s[s.rindex(")") + 2:].split()
    return {"ppid": int(rest[1]), "start": int(rest[19])}

def children(pid):
    out = []
    for t in glob.glob(f"/proc/{pid}/task/*/children"):
        out += [int(x) for x in open(t).read().split()]
    return sorted(set(out))

def mem(pid):
    m = {"comm": open(f"/proc/{pid}/comm").read().strip()}
    for l in open(f"/proc/{pid}/status"):
        k, _, v = l.partition(":")
        if k in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "Threads"):
            m[k] = int(v.split()[0])
    for l in open(f"/proc/{pid}/smaps_rollup"):
        k, _, v = l.partition(":")
        if k in ("Pss", "Pss_Anon"):
            m[k] = int(v.split()[0])
    return m

rows = []
def add(user, ct, role, pid):
    m = mem(pid)
    rows.append([phase, user, ct, role, str(pid), m["comm"], str(m["VmRSS"]), str(m["RssAnon"]), str(m["RssFile"]),
                 str(m["Pss"]), str(m["Pss_Anon"]), str(m["Threads"])])

for u in users:
    for ct in os.environ["BOX_CTS"].split():
        c = json.load(open(f"{res}/inspect.{u}.{ct}.json"))[0]
        mon, init = c["monitor"], c["pid"]
        if stat(mon)["start"] != c["monitorStart"] or stat(init)["start"] != c["pidStart"]:
            sys.exit(f"{ct} as {u}: monitor {mon} or init {init} is not the process box inspect recorded")
        if stat(init)["ppid"] != mon:
            sys.exit(f"{ct} as {u}: init {init}'s parent is {stat(init)['ppid']}, not the monitor {mon}")
        if stat(mon)["ppid"] != 1:
            print(f"note: {ct} as {u}: the monitor's parent is {stat(mon)['ppid']}", file=sys.stderr)
        add(u, ct, "monitor", mon)
        for k in children(mon):
            if k != init:
                add(u, ct, "monitor-child", k)
        add(u, ct, "init", init)
        work = children(init)
        if len(work) != 1:
            sys.exit(f"{ct} as {u}: init {init} has children {work}, want one (sleep)")
        add(u, ct, "workload", work[0])

p = json.load(open(f"{res}/inspect.podman.json"))[0]
conmon, work = p["State"]["ConmonPid"], p["State"]["Pid"]
add(sub, "exec-podman", "conmon", conmon)
add(sub, "exec-podman", "workload", work)
ns = p["NetworkSettings"].get("SandboxKey", "")
uid = os.stat(f"/proc/{conmon}").st_uid
for d in glob.glob("/proc/[0-9]*"):
    try:
        if os.stat(d).st_uid != uid or open(f"{d}/comm").read().strip() != "slirp4netns":
            continue
        if ns and ns in open(f"{d}/cmdline").read().replace("\0", " "):
            add(sub, "exec-podman", "slirp4netns", int(d[6:]))
    except OSError:
        pass
pause = f"{os.environ['PAUSE_PIDFILE']}"
if os.path.exists(pause):
    add(sub, "exec-podman", "pause (shared)", int(open(pause).read().strip()))
with open(f"{res}/rss.tsv", "a") as f:
    for r in rows:
        f.write("\t".join(r) + "\n")
EOF
printf 'phase\tuser\tcontainer\trole\tpid\tcomm\tvmrss_kb\trss_anon_kb\trss_file_kb\tpss_kb\tpss_anon_kb\tthreads\n' >"$RES/rss.tsv"
measure_rss() {
	sleep "$IDLE_SECS"
	PAUSE_PIDFILE=$PD/run/libpod/tmp/pause.pid BOX_CTS="$(for v in "${VARIANTS[@]}"; do printf "%s$v " "${BOX_CTS[@]}"; done)" python3 "$RSSPY" "$RES" "$1" "${USERS[@]}" 2>>"$RES/rss.log" ||
		die "measuring memory ($1) failed: $(tail -5 "$RES/rss.log")"
}
say "memory of the idle containers (after ${IDLE_SECS} s)"
measure_rss idle

# --- sanity -------------------------------------------------------------------
# Every exec runs in the image's own userland.
for u in "${USERS[@]}"; do
	for v in "${VARIANTS[@]}"; do
		for c in "${BOX_CTS[@]}"; do
			out=$(box_as "$v" "$u" exec "$c" cat /etc/alpine-release </dev/null 2>"$RES/sanity.err") ||
				die "box$v exec $c cat /etc/alpine-release as $u failed: $(tail -5 "$RES/sanity.err")"
			[[ $out == 3.20.3 ]] || die "box$v exec $c as $u printed '$out', not the image's /etc/alpine-release (3.20.3)"
		done
	done
done
out=$(podman_as exec "$PODMAN_CT" cat /etc/alpine-release </dev/null 2>"$RES/sanity.err") ||
	die "podman exec cat /etc/alpine-release failed: $(tail -5 "$RES/sanity.err")"
[[ $out == 3.20.3 ]] || die "podman exec printed '$out', not the image's /etc/alpine-release (3.20.3)"
rm -f "$RES/sanity.err"
say "sanity: every exec sees Alpine 3.20.3"

# --- the commands -------------------------------------------------------------
# cmds USER: the cases for USER, one per line as a JSON array [name, argv...];
# with BOX_B, only box's, each also as box B's (named NAME@B).
cmds() {
	local u=$1 d=$U/$1
	python3 - "$d" "$BOX" "$(command -v podman)" "$([[ $u == "$SUB_USER" ]] && echo 1 || echo 0)" "$PODMAN_CT" "$BOXB" <<'EOF'
import json, sys
d, box, podman, sub, pct, boxb = sys.argv[1:]

def boxes(v, box):
    """box's cases, their names and stores with the suffix v."""
    b = [box, "--config", f"{d}/box.toml", "--root", f"{d}/box{v}"]
    return [[f"box-slirp{v}", *b, "exec", "exec-slirp", "true"],
            [f"box-none{v}", *b, "exec", "exec-none", "true"],
            [f"box-version{v}", box, "version"]]

tools = boxes("", box)
if boxb:
    # A's cases, then B's in the same order: rotated every round, each of
    # A's runs follows the B run of the case before it, and vice versa.
    tools += boxes("@B", boxb)
elif sub == "1":
    tools.insert(2, ["podman", podman, "--root", f"{d}/podman/root", "--runroot", f"{d}/podman/runroot", "exec", pct, "true"])
for t in tools:
    print(json.dumps(t))
EOF
}
write_cmds

# --- timing (bench/lib.sh, bench/timer.py) -----------------------------------
timed_rounds

say "memory of the containers after the rounds (after ${IDLE_SECS} s idle)"
measure_rss after-rounds
# Every container still runs (no exec took one down).
for u in "${USERS[@]}"; do
	for v in "${VARIANTS[@]}"; do
		for c in "${BOX_CTS[@]}"; do
			st=$(box_record "$v" "$u" "$c" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["status"])')
			[[ $st == running ]] || die "$c$v as $u is $st after the rounds"
		done
	done
done

# --- summary ------------------------------------------------------------------
machine_txt 0 ", slirp4netns $(slirp4netns --version | head -1 | cut -d' ' -f3)"

PYTHONPATH="$REPO/bench" python3 - "$RES" "$ROUNDS" "$WARMUP" "$SUB_USER" "$NOSUB_USER" "$IDLE_SECS" "$([[ -n $BOXB ]] && echo 1 || echo 0)" >"$RES/summary.md" <<'EOF'
import collections, statistics, sys
from benchstats import load_runs, med, print_ab, print_load, print_machine, print_runs, q
res, rounds, warmup, sub, nosub, idle, ab = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7] == "1"
users = [sub, nosub]

print_machine(res)
by, cpu = load_runs(res)
title = f"Exec latency, `exec C true` ({rounds} interleaved rounds after {warmup} warm-up rounds; wall ms)"
if ab:
    print_ab(res, users, ["box-slirp", "box-none", "box-version"], "A/B: " + title, what="case")
else:
    order = ["box-slirp", "box-none", "podman", "box-version"]
    label = {"box-slirp": "`box exec` (slirp container)", "box-none": "`box exec` (--network none container)",
             "podman": "`podman exec`", "box-version": "`box version` (reference)"}
    print(f"## {title}\n")
    M = print_runs(by, cpu, users, order, what="case", label=label)
    pod = M[(sub, "podman")]
    print("## Ratios of medians\n")
    print("| user | box exec into | podman / box | box exec − box version (ms) |")
    print("| --- | --- | ---: | ---: |")
    for u in users:
        for bt in ("box-slirp", "box-none"):
            b = M[(u, bt)]
            note = "" if u == sub else f" (podman as {sub})"
            print(f"| {u} | {bt[4:]} | {pod / b:.1f}×{note} | {b - M[(u, 'box-version')]:.2f} |")
    print()
print_load(res)

mem = [l.rstrip("\n").split("\t") for l in open(f"{res}/rss.tsv")][1:]
print(f"## Memory of the idle detached containers (MiB; `idle` = {idle} s after start, before any exec; "
      f"`after` = {idle} s after the timed rounds)\n")
print("VmRSS from /proc/PID/status, Pss from /proc/PID/smaps_rollup (shared pages divided among the processes that map them).\n")
print("| user | container | process | pid | VmRSS idle | VmRSS after | RssAnon after | RssFile after | Pss idle | Pss after | Pss_Anon after | threads |")
print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
R = {}
for r in mem:
    R[(r[0], r[1], r[2], r[3], r[4])] = r
keys = []
for r in mem:
    k = (r[1], r[2], r[3], r[4])
    if k not in keys:
        keys.append(k)
mib = lambda kb: f"{int(kb) / 1024:.1f}"
for k in keys:
    i, a = R.get(("idle",) + k), R.get(("after-rounds",) + k)
    g = lambda r, n: mib(r[n]) if r else "–"
    x = a or i
    print(f"| {k[0]} | {k[1]} | {k[2]} ({x[5]}) | {k[3]} | {g(i, 6)} | **{g(a, 6)}** | {g(a, 7)} | {g(a, 8)} | {g(i, 9)} | {g(a, 9)} | {g(a, 10)} | {x[11]} |")
print()

print("## Targets\n")
if not ab:
    for u in users:
        for bt in ("box-slirp", "box-none"):
            b = M[(u, bt)]
            print(f"- {u}, {bt[4:]}: box exec median {b:.2f} ms ≤ 10 ms: **{'met' if b <= 10 else 'NOT met'}**; "
                  f"podman exec {pod:.2f} ms = {pod / b:.1f}× box")
for r in mem:
    if r[3] == "monitor":
        kb = int(r[6])
        print(f"- {r[1]}, {r[2]}, {r[0]}: monitor VmRSS {kb / 1024:.1f} MiB ({kb * 1024 / 1e6:.1f} MB), "
              f"Pss {int(r[9]) / 1024:.1f} MiB ≤ 30 MB: **{'met' if kb * 1024 <= 30e6 else 'NOT met'}**")
EOF
cat "$RES/summary.md"
say "results in $RES"
