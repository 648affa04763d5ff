#!/usr/bin/env bash
# bench/shell.sh — box shell: a warm enter (`box shell NAME -- true`) vs
# `podman exec` into a running --userns=keep-id container, the time to make
# a shell from a pulled image, and a check that making one changes the
# owner of no image file. Not a test; never run in CI.
#
# WHAT IT MEASURES
#   1. Wall time of a warm enter, as unprivileged users, per case:
#        box-shell    box --config F --root STORE shell bench -- true
#                     (the shell made and running; its image is REF, named
#                     by [shell] image in F, no packages, no hooks)
#        box-exec     box ... exec shell-bench true: box exec into the
#                     shell's own container, what an enter costs without
#                     the shell's record and session
#        podman       podman --root R --runroot RR exec shell-podman true
#                     (container: podman run -d --userns=keep-id --name
#                     shell-podman REF sleep 100000; rootless, runc,
#                     cgroupfs, native overlay)
#        box-version  box version: one start and exit of the box binary
#      as BENCH_USER (default boxsub; subordinate ids) and BENCH_NOSUB_USER
#      (default boxnosub; none). podman needs subordinate ids, so it runs as
#      the first only. The timing is bench/start.sh's (bench/timer.py: a
#      Python harness running as the user times posix_spawn -> wait4;
#      WARMUP uncounted rounds, then ROUNDS rounds, the order rotating),
#      with SETTLE_MS (default 200) of pause before each run, untimed: a
#      podman exec leaves its clean-up working for a while after it
#      returns, which slowed whatever ran next by some 5–8 ms (Session 9
#      in docs/BENCHMARKS.md has both); SETTLE_MS=0 runs back to back.
#   2. Creation: CREATE_RUNS times per user (default 10), the shell is
#      removed (box shell --rm, not timed) and `box shell make -- true`
#      timed: a new keep-id container from the pulled image, started, and
#      the enter. For reference, podman's creation of a keep-id container
#      (podman rm -f, then podman run -d --userns=keep-id REF sleep, timed)
#      as BENCH_USER.
#   3. chown: one more creation per user under strace -f -y -e
#      trace=chown,fchown,fchownat,lchown (as root with -u USER, so that
#      the setuid newuidmap still works); the summary lists every call and
#      counts those on a path in the store's layers or the container's
#      directory (the image's files and the container's copy-up): the
#      target is none.
#
# HOW TO RUN
#   sudo bash bench/shell.sh [ROUNDS]          # ROUNDS defaults to 60
#   Environment: BENCH_DIR (default /var/tmp/box-shell-bench), BENCH_USER,
#   BENCH_NOSUB_USER, BENCH_PORT (default 45504), WARMUP (default 5),
#   SETTLE_MS (default 200),
#   CREATE_RUNS (default 10), ALPINE_TARBALL, BOX_BIN: as in bench/exec.sh.
#   Results: $BENCH_DIR/results/<timestamp>/ — runs.tsv, create.tsv,
#   strace.USER.txt, machine.txt, summary.md (printed at the end).
#
# WHAT IT NEEDS
#   As bench/exec.sh, and strace (installed if missing). The shells share
#   the users' real homes (box shell binds the home); nothing is written
#   there.
#
# CLEAN-UP
#   On exit the script removes its shells (box shell --rm) and podman
#   container, stops its registry and podman's pause process, and deletes
#   the stores under $BENCH_DIR. Only $BENCH_DIR/results and the mkimage
#   blob cache are kept.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/bench/lib.sh"
alpine_settings /var/tmp/box-shell-bench 45504 "${1:-}"
CREATE_RUNS=${CREATE_RUNS:-10}
SETTLE_MS=${SETTLE_MS:-200}
[[ $SETTLE_MS =~ ^[0-9]+$ ]] || die "SETTLE_MS must be a number of milliseconds, not '$SETTLE_MS'"
[[ $CREATE_RUNS =~ ^[1-9][0-9]*$ ]] || die "CREATE_RUNS must be a positive number, not '$CREATE_RUNS'"
PODMAN_CT=shell-podman

install_missing podman:podman runc:runc conmon:conmon slirp4netns:slirp4netns newuidmap:uidmap docker-registry:docker-registry strace:strace python3:python3 curl:curl setpriv:util-linux

# --- work dir and clean-up --------------------------------------------------
results_dir
U=$BENCH_DIR/u # per user: U/NAME/{box,podman,run,...}
REG_PID=
SHELLS=()     # "user shell" of every shell this script may have made
PODMAN_STARTED=
# as_user_for SECS USER CMD...: as_user (bench/lib.sh) under timeout, which
# cannot run a shell function.
as_user_for() {
	local secs=$1 u=$2 env=()
	shift 2
	mapfile -t env < <(user_env "$u")
	timeout "$secs" setpriv --reuid="$u" --regid="$u" --init-groups env -i "${env[@]}" "$@"
}
cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	local us u
	for us in "${SHELLS[@]}"; do
		u=${us% *}
		as_user_for 30 "$u" "$BOX" --config "$U/$u/box.toml" --root "$U/$u/box" shell --rm "${us#* }" \
			>/dev/null 2>>"$RES/cleanup.log"
	done
	if [[ -n $PODMAN_STARTED ]]; then
		for c in "$PODMAN_CT" shell-podman-make; do
			as_user_for 60 "$SUB_USER" "${PODMAN[@]}" rm -f -t 0 "$c" >/dev/null 2>>"$RES/cleanup.log" ||
				echo "podman rm -f $c failed" >>"$RES/cleanup.log"
		done
	fi
	stop_registry_and_pause "$U/$SUB_USER/run/libpod/tmp/pause.pid"
	sleep 0.5
	rm_work_dirs
	((rc == 0)) || printf 'shell.sh: failed (exit %s); partial results in %s\n' "$rc" "$RES" >&2
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
work_dirs

box_as() {
	local u=$1
	shift
	as_user "$u" "$BOX" --config "$U/$u/box.toml" --root "$U/$u/box" "$@"
}
podman_as() { as_user "$SUB_USER" "${PODMAN[@]}" "$@"; }

# --- binaries, image, configuration -------------------------------------------
box_binaries
alpine_rootfs
serve_image "$ROOTFS"
for u in "${USERS[@]}"; do
	tool_configs "$u"
	printf '[shell]\nimage = "%s"\n' "$REF" >>"$U/$u/box.toml"
	say "box pull as $u"
	box_pull "$u" "" "$U/$u/box" box
done
podman_ready

# --- the running shells and the podman container -------------------------------
for u in "${USERS[@]}"; do
	say "box shell bench as $u (making it)"
	SHELLS+=("$u bench" "$u make" "$u traced")
	box_as "$u" shell bench -- true </dev/null >"$RES/make.$u.log" 2>&1 ||
		die "box shell bench as $u failed: $(tail -5 "$RES/make.$u.log")"
	out=$(box_as "$u" shell bench -- cat /etc/alpine-release </dev/null 2>/dev/null) ||
		die "box shell bench -- cat /etc/alpine-release as $u failed"
	[[ $out == 3.20.3 ]] || die "the shell as $u printed '$out', not the image's /etc/alpine-release (3.20.3)"
	[[ $(box_as "$u" shell bench -- id -u </dev/null 2>/dev/null) == $(id -u "$u") ]] ||
		die "the shell as $u does not run as $u's uid"
done
say "podman run -d --userns=keep-id --name $PODMAN_CT as $SUB_USER"
PODMAN_STARTED=1
podman_as run -d --userns=keep-id --name "$PODMAN_CT" "$REF" sleep 100000 >"$RES/run.podman.log" 2>&1 ||
	die "podman run -d --userns=keep-id failed: $(tail -5 "$RES/run.podman.log")"
[[ $(podman_as exec "$PODMAN_CT" id -u </dev/null 2>/dev/null) == $(id -u "$SUB_USER") ]] ||
	die "podman's keep-id container does not run as $SUB_USER's uid"

# --- 1. warm enters ------------------------------------------------------------
cmds() {
	local u=$1 d=$U/$1
	python3 - "$d" "$BOX" "$(command -v podman)" "$([[ $u == "$SUB_USER" ]] && echo 1 || echo 0)" "$PODMAN_CT" <<'EOF'
import json, sys
d, box, podman, sub, pct = sys.argv[1:]
b = [box, "--config", f"{d}/box.toml", "--root", f"{d}/box"]
tools = [["box-shell", *b, "shell", "bench", "--", "true"],
         ["box-exec", *b, "exec", "shell-bench", "true"],
         ["box-version", box, "version"]]
if sub == "1":
    tools.insert(2, ["podman", podman, "--root", f"{d}/podman/root", "--runroot", f"{d}/podman/runroot", "exec", pct, "true"])
for t in tools:
    print(json.dumps(t))
EOF
}
write_cmds
timed_rounds

# --- 2. creation ----------------------------------------------------------------
printf 'run\tuser\ttool\twall_ms\tcpu_ms\n' >"$RES/create.tsv"
timer=$BENCH_DIR/bin/timer.py
for u in "${USERS[@]}"; do
	d=$U/$u
	printf '%s\n' "$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' box-create "$BOX" --config "$d/box.toml" --root "$d/box" shell make -- true)" >"$d/create.jsonl"
	: >"$d/create.tsv"
	chown "$u:$u" "$d/create.jsonl" "$d/create.tsv"
	say "$CREATE_RUNS creations as $u"
	for r in $(seq "$CREATE_RUNS"); do
		box_as "$u" shell --rm make >/dev/null 2>&1 || true
		sync
		as_user "$u" python3 "$timer" "$d/create.jsonl" "$d/create.tsv" "$r" "$u" 0 "$d/err" ||
			die "box shell make as $u failed (run $r)"
	done
	cat "$d/create.tsv" >>"$RES/create.tsv"
done
d=$U/$SUB_USER
python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' podman-create "$(command -v podman)" --root "$d/podman/root" --runroot "$d/podman/runroot" \
	run -d --userns=keep-id --name shell-podman-make "$REF" sleep 100000 >"$d/pcreate.jsonl"
: >"$d/pcreate.tsv"
chown "$SUB_USER:$SUB_USER" "$d/pcreate.jsonl" "$d/pcreate.tsv"
say "$CREATE_RUNS podman keep-id creations as $SUB_USER"
for r in $(seq "$CREATE_RUNS"); do
	podman_as rm -f -t 0 shell-podman-make >/dev/null 2>&1 || true
	sync
	as_user "$SUB_USER" python3 "$timer" "$d/pcreate.jsonl" "$d/pcreate.tsv" "$r" "$SUB_USER" 0 "$d/err" ||
		die "podman run -d --userns=keep-id as $SUB_USER failed (run $r)"
done
podman_as rm -f -t 0 shell-podman-make >/dev/null 2>&1 || true
cat "$d/pcreate.tsv" >>"$RES/create.tsv"

# --- 3. chown during creation -------------------------------------------------------
# strace -f follows the shell's detached monitor and container, which live
# on after the enter: the traced sh marks when the enter has returned, and
# box shell --rm then ends what strace still follows.
for u in "${USERS[@]}"; do
	say "strace of a creation as $u"
	mapfile -t env < <(user_env "$u")
	mark=$U/$u/traced.status
	rm -f "$mark"
	(cd "$BENCH_DIR" && exec env -i "${env[@]}" strace -f -y -u "$u" -e trace=chown,fchown,fchownat,lchown -o "$RES/strace.$u.txt" \
		/bin/sh -c '"$@" </dev/null >/dev/null 2>&1; echo $? >"$0"' "$mark" \
		"$BOX" --config "$U/$u/box.toml" --root "$U/$u/box" shell traced -- true) 2>"$RES/strace.$u.err" &
	spid=$!
	for i in $(seq 600); do
		[[ -s $mark ]] && break
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.1
	done
	[[ $(cat "$mark" 2>/dev/null) == 0 ]] || die "box shell traced under strace as $u failed: $(tail -5 "$RES/strace.$u.err")"
	box_as "$u" shell --rm traced >/dev/null 2>&1 || die "box shell --rm traced as $u failed"
	for i in $(seq 300); do
		kill -0 "$spid" 2>/dev/null || break
		((i < 300)) || { kill "$spid"; die "strace as $u did not end after box shell --rm"; }
		sleep 0.1
	done
	wait "$spid" || true
done

# --- summary ------------------------------------------------------------------------
machine_txt 0 ""
PYTHONPATH="$REPO/bench" python3 - "$RES" "$ROUNDS" "$WARMUP" "$SUB_USER" "$NOSUB_USER" "$CREATE_RUNS" "$U" "$SETTLE_MS" >"$RES/summary.md" <<'EOF'
import collections, re, sys
from benchstats import load_runs, med, print_load, print_machine, print_runs, q
res, rounds, warmup, sub, nosub, creates, udir, settle = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6]), sys.argv[7], int(sys.argv[8])
users = [sub, nosub]

print_machine(res)
by, cpu = load_runs(res)
pause = f"{settle} ms of pause before each run" if settle else "back to back"
print(f"## Warm enter, `… true` ({rounds} interleaved rounds after {warmup} warm-up rounds, {pause}; wall ms)\n")
label = {"box-shell": "`box shell bench -- true`", "box-exec": "`box exec shell-bench true`",
         "podman": "`podman exec` (keep-id container)", "box-version": "`box version` (reference)"}
M = print_runs(by, cpu, users, ["box-shell", "box-exec", "podman", "box-version"], what="case", label=label)
print_load(res)

rows = [l.rstrip("\n").split("\t") for l in open(f"{res}/create.tsv")][1:]
cb, cc = collections.defaultdict(list), collections.defaultdict(list)
for r in rows:
    cb[(r[1], r[2])].append(float(r[3]))
    cc[(r[1], r[2])].append(float(r[4]))
print(f"## Creation from the pulled image, no packages ({creates} runs each; wall ms)\n")
C = print_runs(cb, cc, users, ["box-create", "podman-create"], what="case",
               label={"box-create": "`box shell make -- true` (new shell)", "podman-create": "`podman run -d --userns=keep-id`"})

print("## chown during a creation (strace -f -y -e trace=chown,fchown,fchownat,lchown)\n")
image_chowns = {}
for u in users:
    calls = [l.rstrip("\n") for l in open(f"{res}/strace.{u}.txt") if re.search(r"\b(l|f)?chown(at)?\(", l)]
    store = f"{udir}/{u}/box/"
    bad = [c for c in calls if f"{store}layers/" in c or f"{store}containers/" in c]
    image_chowns[u] = len(bad)
    print(f"- {u}: {len(calls)} chown calls, {len(bad)} on the store's layers or the container's files")
    for c in calls[:10]:
        print(f"  - `{c[:200]}`")
print()

print("## Targets\n")
pod = M.get((sub, "podman"))
for u in users:
    b = M[(u, "box-shell")]
    ratio = f"podman exec {pod:.2f} ms = {pod / b:.1f}× box ({'met' if pod / b >= 10 else 'NOT met'} ≥ 10×)" if pod else "no podman"
    print(f"- {u}: warm enter median {b:.2f} ms ≤ 15 ms: **{'met' if b <= 15 else 'NOT met'}**; {ratio}")
    c = C[(u, "box-create")]
    print(f"- {u}: creation median {c:.0f} ms ≤ 1000 ms: **{'met' if c <= 1000 else 'NOT met'}**")
    print(f"- {u}: chown of image files during creation: {image_chowns[u]} (target 0: **{'met' if image_chowns[u] == 0 else 'NOT met'}**)")
EOF
cat "$RES/summary.md"
say "results in $RES"
