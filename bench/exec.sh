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
#   /work/shared/images/alpine-minirootfs-3.20.3-x86_64.tar.gz).
#   Results: $BENCH_DIR/results/<timestamp>/ — runs.tsv (every timed run),
#   rss.tsv (every process measured), inspect.*.json, load.txt, machine.txt,
#   summary.md (printed at the end).
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
#   The set-up (users, packages, box build from a snapshot of the work tree,
#   registry, image push, podman configuration, as_user) and the timing
#   harness are copied from bench/start.sh rather than shared, so that each
#   script stands alone; a change to one may be wanted in the other.
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

ROUNDS=${1:-60}
WARMUP=${WARMUP:-5}
IDLE_SECS=${IDLE_SECS:-2}
BENCH_DIR=${BENCH_DIR:-/var/tmp/box-exec-bench}
SUB_USER=${BENCH_USER:-boxsub}
NOSUB_USER=${BENCH_NOSUB_USER:-boxnosub}
PORT=${BENCH_PORT:-45503}
TARBALL=${ALPINE_TARBALL:-/work/shared/images/alpine-minirootfs-3.20.3-x86_64.tar.gz}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/bench/lib.sh"
# A clean PATH: root's own (pyenv, ~/go/bin) must not leak into the tools.
export PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C.UTF-8
REF=127.0.0.1:$PORT/bench/alpine:3.20.3
BOX_CTS=(exec-slirp exec-none) # box's containers, per user
PODMAN_CT=exec-podman

say() { printf '== %s\n' "$*" >&2; }
die() {
	printf 'exec.sh: %s\n' "$*" >&2
	exit 1
}

[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive number, not '$ROUNDS'"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "WARMUP must be a number, not '$WARMUP'"
[[ $IDLE_SECS =~ ^[0-9]+$ ]] || die "IDLE_SECS must be a number, not '$IDLE_SECS'"
[[ $(id -u) -eq 0 ]] || die "run as root (sudo bash bench/exec.sh); box and podman themselves run as $SUB_USER and $NOSUB_USER"
[[ -f $TARBALL ]] || die "no Alpine tarball at $TARBALL (set ALPINE_TARBALL)"
check_users

# --- packages ---------------------------------------------------------------
install_missing podman:podman runc:runc conmon:conmon slirp4netns:slirp4netns newuidmap:uidmap docker-registry:docker-registry python3:python3 curl:curl setpriv:util-linux
command -v go >/dev/null || die "no Go at /usr/local/go/bin"

# --- work dir and clean-up --------------------------------------------------
mkdir -p "$BENCH_DIR"
chmod 755 "$BENCH_DIR"
RES=$BENCH_DIR/results/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$RES"
U=$BENCH_DIR/u # per user: U/NAME/{box,podman,run,...}
BOX=$BENCH_DIR/bin/box

REG_PID=
STARTED=()    # "user container" of every box container this script started
KILL_PIDS=()  # their monitors and inits, "pid starttime", for a failed box rm
PODMAN_STARTED=
cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	local uc u c pp
	for uc in "${STARTED[@]}"; do
		u=${uc% *} c=${uc#* }
		timeout 30 setpriv --reuid="$u" --regid="$u" --init-groups env -i HOME="$(getent passwd "$u" | cut -d: -f6)" \
			USER="$u" PATH="$PATH" XDG_RUNTIME_DIR="$U/$u/run" \
			"$BOX" --config "$U/$u/box.toml" --root "$U/$u/box" rm -f "$c" >/dev/null 2>>"$RES/cleanup.log" ||
			echo "box rm -f $c as $u failed" >>"$RES/cleanup.log"
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
	if [[ -n $REG_PID ]]; then
		kill "$REG_PID" 2>/dev/null && wait "$REG_PID" 2>/dev/null
	fi
	# The rootless pause process that this script's podman started (its pid
	# file is under this script's XDG_RUNTIME_DIR, so it is ours).
	pp=$U/$SUB_USER/run/libpod/tmp/pause.pid
	if [[ -f $pp ]]; then
		kill "$(cat "$pp")" 2>/dev/null
	fi
	sleep 0.5
	rm -rf "$U" "$BENCH_DIR/registry" "$BENCH_DIR/rootfs" "$BENCH_DIR/bin"
	((rc == 0)) || printf 'exec.sh: failed (exit %s); partial results in %s\n' "$rc" "$RES" >&2
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$U" "$BENCH_DIR/registry" "$BENCH_DIR/rootfs" "$BENCH_DIR/bin"
mkdir -p "$U" "$BENCH_DIR/bin"
chmod 755 "$U" "$BENCH_DIR/bin"
# Every user can enter the working directory (box and podman record the cwd).
cd "$BENCH_DIR"

# uhome, user_env and as_user USER CMD... (run CMD as USER with a clean
# environment) are in bench/lib.sh.
# box_as USER ARGS...: box with USER's config and store.
box_as() {
	local u=$1
	shift
	as_user "$u" "$BOX" --config "$U/$u/box.toml" --root "$U/$u/box" "$@"
}
PD=$U/$SUB_USER
# podman 4.3 refuses a runroot longer than 50 characters.
((${#PD} + 15 <= 50)) || die "BENCH_DIR is too long for podman's runroot ($PD/podman/runroot > 50 characters)"
PODMAN=(podman --root "$PD/podman/root" --runroot "$PD/podman/runroot")
podman_as() { as_user "$SUB_USER" "${PODMAN[@]}" "$@"; }

# --- binaries ---------------------------------------------------------------
# Built from a snapshot of the work tree, so that an edit made meanwhile by
# someone else cannot change the binary half-way.
say "building box from a snapshot of $REPO (release flags)"
for try in 1 2 3 4 5 6; do
	rm -rf "$BENCH_DIR/bin/src"
	mkdir -p "$BENCH_DIR/bin/src"
	(cd "$REPO" && git ls-files -z --cached --others --exclude-standard | xargs -0 tar -cf - --ignore-failed-read 2>/dev/null) |
		tar -xf - -C "$BENCH_DIR/bin/src"
	(cd "$REPO" && git rev-parse --short HEAD && git status --porcelain | wc -l) >"$RES/box-commit.txt" 2>/dev/null || true
	if (cd "$BENCH_DIR/bin/src" && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$BOX" .) 2>"$RES/build.log"; then
		break
	fi
	((try < 6)) || die "box does not build: $(tail -5 "$RES/build.log")"
	say "box does not build right now (someone mid-edit?); retrying in 60 s"
	sleep 60
done
MKIMAGE=$BENCH_DIR/bin/mkimage
(cd "$BENCH_DIR/bin/src" && go build -o "$MKIMAGE" ./bench/mkimage) 2>"$RES/mkimage-build.log" ||
	die "cannot build bench/mkimage: $(tail -5 "$RES/mkimage-build.log")"
chmod 755 "$BOX"

# --- rootfs, registry and image ---------------------------------------------
say "unpacking $(basename "$TARBALL")"
ROOTFS=$BENCH_DIR/rootfs
mkdir -p "$ROOTFS"
tar -xzf "$TARBALL" -C "$ROOTFS"
[[ -x $ROOTFS/bin/busybox ]] || die "$TARBALL does not look like an Alpine minirootfs"
for u in "${USERS[@]}"; do
	mkdir -p "$U/$u/run"
	chown -R "$u:$u" "$U/$u"
	chmod 700 "$U/$u" "$U/$u/run"
done

serve_image "$ROOTFS"

# --- tool configuration and pulls ---------------------------------------------
for u in "${USERS[@]}"; do
	d=$U/$u
	tool_configs "$u"
	say "box pull as $u"
	box_as "$u" pull "$REF" >"$RES/pull.box.$u.log" 2>&1 ||
		die "box pull as $u failed: $(tail -5 "$RES/pull.box.$u.log")"
done
say "podman pull as $SUB_USER"
podman_as pull -q --tls-verify=false "$REF" >"$RES/pull.podman.log" 2>&1 ||
	die "podman pull failed: $(tail -5 "$RES/pull.podman.log")"
podman_as info --format json >"$RES/podman-info.json" 2>"$RES/podman-info.err" ||
	die "podman info failed: $(cat "$RES/podman-info.err")"
drv=$(python3 -c 'import json,sys; i=json.load(open(sys.argv[1])); s=i["store"]; print(s["graphDriverName"], s["graphStatus"].get("Native Overlay Diff"), "mount_program" in json.dumps(s["graphOptions"]), i["host"]["ociRuntime"]["name"])' "$RES/podman-info.json")
[[ $drv == "overlay true False runc" ]] ||
	die "podman is not on native overlay with runc (driver, native diff, mount_program, runtime: $drv)"

# --- the detached containers --------------------------------------------------
# starttime PID: field 22 of /proc/PID/stat (clock ticks after boot).
starttime() { awk '{print $22}' "/proc/$1/stat"; }
for u in "${USERS[@]}"; do
	for c in "${BOX_CTS[@]}"; do
		net=()
		[[ $c == exec-none ]] && net=(--network none)
		say "box run -d ${net[*]} --name $c as $u"
		STARTED+=("$u $c")
		box_as "$u" run -d "${net[@]}" --name "$c" "$REF" sleep 100000 >"$RES/run.$u.$c.log" 2>&1 ||
			die "box run -d --name $c as $u failed: $(tail -5 "$RES/run.$u.$c.log")"
		box_as "$u" inspect "$c" >"$RES/inspect.$u.$c.json" 2>"$RES/inspect.err" ||
			die "box inspect $c as $u failed: $(cat "$RES/inspect.err")"
		read -r mon init st < <(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))[0]; print(c.get("monitor", 0), c.get("pid", 0), c["status"])' "$RES/inspect.$u.$c.json")
		[[ $st == running ]] || die "$c as $u is $st after box run -d"
		((mon > 0 && init > 0)) || die "box inspect $c gives no monitor or init pid (monitor=$mon pid=$init)"
		KILL_PIDS+=("$mon $(starttime "$mon")" "$init $(starttime "$init")")
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
# (box: monitor, init, workload; podman: conmon, workload, slirp4netns,
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
    for ct in ("exec-slirp", "exec-none"):
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
	PAUSE_PIDFILE=$PD/run/libpod/tmp/pause.pid python3 "$RSSPY" "$RES" "$1" "${USERS[@]}" 2>>"$RES/rss.log" ||
		die "measuring memory ($1) failed: $(tail -5 "$RES/rss.log")"
}
say "memory of the idle containers (after ${IDLE_SECS} s)"
measure_rss idle

# --- sanity -------------------------------------------------------------------
# Every exec runs in the image's own userland.
for u in "${USERS[@]}"; do
	for c in "${BOX_CTS[@]}"; do
		out=$(box_as "$u" exec "$c" cat /etc/alpine-release </dev/null 2>"$RES/sanity.err") ||
			die "box exec $c cat /etc/alpine-release as $u failed: $(tail -5 "$RES/sanity.err")"
		[[ $out == 3.20.3 ]] || die "box exec $c as $u printed '$out', not the image's /etc/alpine-release (3.20.3)"
	done
done
out=$(podman_as exec "$PODMAN_CT" cat /etc/alpine-release </dev/null 2>"$RES/sanity.err") ||
	die "podman exec cat /etc/alpine-release failed: $(tail -5 "$RES/sanity.err")"
[[ $out == 3.20.3 ]] || die "podman exec printed '$out', not the image's /etc/alpine-release (3.20.3)"
rm -f "$RES/sanity.err"
say "sanity: every exec sees Alpine 3.20.3"

# --- the commands -------------------------------------------------------------
# cmds USER: the cases for USER, one per line as a JSON array [name, argv...].
cmds() {
	local u=$1 d=$U/$1
	python3 - "$d" "$BOX" "$(command -v podman)" "$([[ $u == "$SUB_USER" ]] && echo 1 || echo 0)" "$PODMAN_CT" <<'EOF'
import json, sys
d, box, podman, sub, pct = sys.argv[1:]
b = [box, "--config", f"{d}/box.toml", "--root", f"{d}/box"]
tools = [["box-slirp", *b, "exec", "exec-slirp", "true"],
         ["box-none", *b, "exec", "exec-none", "true"]]
if sub == "1":
    tools.append(["podman", podman, "--root", f"{d}/podman/root", "--runroot", f"{d}/podman/runroot", "exec", pct, "true"])
tools.append(["box-version", box, "version"])
for t in tools:
    print(json.dumps(t))
EOF
}
for u in "${USERS[@]}"; do
	cmds "$u" >"$U/$u/cmds.jsonl"
	chown "$u:$u" "$U/$u/cmds.jsonl"
done

# --- timing (bench/lib.sh, bench/timer.py) -----------------------------------
timed_rounds

say "memory of the containers after the rounds (after ${IDLE_SECS} s idle)"
measure_rss after-rounds
# Every container still runs (no exec took one down).
for u in "${USERS[@]}"; do
	for c in "${BOX_CTS[@]}"; do
		st=$(box_as "$u" inspect "$c" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["status"])')
		[[ $st == running ]] || die "$c as $u is $st after the rounds"
	done
done

# --- summary ------------------------------------------------------------------
{
	echo "nproc=$(nproc)"
	echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	echo "mem=$(free -m | awk '/^Mem:/{print $2 " MiB"}')"
	echo "kernel=$(uname -r)"
	echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
	echo "fs=$(findmnt -no FSTYPE,SOURCE,OPTIONS -T "$BENCH_DIR" | head -1)"
	echo "cgroups=$(stat -f -c %T /sys/fs/cgroup)"
	echo "box=$("$BOX" version) (commit $(head -1 "$RES/box-commit.txt" 2>/dev/null), $(tail -1 "$RES/box-commit.txt" 2>/dev/null) uncommitted files)"
	echo "go=$(go version | cut -d' ' -f3)"
	echo "podman=$(podman --version | cut -d' ' -f3), runc $(runc --version | head -1 | cut -d' ' -f3), conmon $(conmon --version 2>/dev/null | head -1 | cut -d' ' -f3), slirp4netns $(slirp4netns --version | head -1 | cut -d' ' -f3)"
	echo "shadow-utils newuidmap=$(dpkg-query -W -f '${Version}' uidmap 2>/dev/null)"
	echo "python=$(python3 --version | cut -d' ' -f2)"
	echo "load_before=$(cat "$RES/load-before.txt")"
	echo "load_after=$(cat "$RES/load-after.txt")"
} >"$RES/machine.txt"

PYTHONPATH="$REPO/bench" python3 - "$RES" "$ROUNDS" "$WARMUP" "$SUB_USER" "$NOSUB_USER" "$IDLE_SECS" >"$RES/summary.md" <<'EOF'
import collections, statistics, sys
from benchstats import load_runs, med, print_machine, q
res, rounds, warmup, sub, nosub, idle = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
users = [sub, nosub]

print_machine(res)
by, cpu = load_runs(res)
order = ["box-slirp", "box-none", "podman", "box-version"]
label = {"box-slirp": "`box exec` (slirp container)", "box-none": "`box exec` (--network none container)",
         "podman": "`podman exec`", "box-version": "`box version` (reference)"}
print(f"## Exec latency, `exec C true` ({rounds} interleaved rounds after {warmup} warm-up rounds; wall ms)\n")
print("| user | case | runs | median | p10 | p90 | min | median CPU (user+sys) |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
M = {}
for u in users:
    for t in order:
        w = by.get((u, t))
        if not w:
            continue
        M[(u, t)] = med(w)
        print(f"| {u} | {label[t]} | {len(w)} | **{med(w):.2f}** | {q(w, .1):.2f} | {q(w, .9):.2f} | {min(w):.2f} | {med(cpu[(u, t)]):.2f} |")
print()
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
loads = [float(l.split()[1]) for l in open(f"{res}/load.txt") if not l.startswith("-")]
print(f"1-minute load average during the timed rounds (2 = both cores busy): median {med(loads):.2f}, max {max(loads):.2f}.\n")

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
