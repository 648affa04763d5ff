#!/usr/bin/env bash
# bench/hpc.sh [ROUNDS]: many containers at once on one node, as the ranks
# of a job start them: the wall time of N (default 32) concurrent
# `box run --rm IMG true`, against podman (the user with subordinate ids
# only: rootless podman needs them) and charliecloud's ch-run on an unpacked
# copy of the same image, in the same run. Each round starts every tool's
# batch once, the order rotated; the figure is the median over ROUNDS
# (default 10) after WARMUP (default 2) rounds.
#
#   sudo bash bench/hpc.sh [ROUNDS]
#   Environment: N (containers per batch, default 32), BENCH_DIR
#   (/var/tmp/box-hpc-bench), BENCH_USER/BENCH_NOSUB_USER (boxsub,
#   boxnosub), BENCH_PORT (45504), ALPINE_TARBALL, BOX_BIN.
#   Results: $BENCH_DIR/results/<timestamp>/ — runs.tsv (every batch),
#   summary.md.
#
# Not a test: it measures, it asserts nothing, and CI never runs it.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/bench/lib.sh"
alpine_settings /var/tmp/box-hpc-bench 45504 "${1:-10}"
WARMUP=${WARMUP:-2}
N=${N:-32}
[[ $N =~ ^[1-9][0-9]*$ ]] || die "N must be a positive number, not '$N'"
BOX_B=

install_missing podman:podman runc:runc ch-run:charliecloud newuidmap:uidmap docker-registry:docker-registry python3:python3 curl:curl setpriv:util-linux

standard_setup hpc.sh
for u in "${USERS[@]}"; do
	cp -a "$ROOTFS" "$U/$u/rootfs"
	chown -R "$u:$u" "$U/$u/rootfs"
done
serve_image "$ROOTFS"
for u in "${USERS[@]}"; do
	tool_configs "$u"
	say "box pull as $u"
	box_pull "$u" "" "$U/$u/box" box
done
podman_ready

# batch USER TOOL: N concurrent runs of TOOL as USER; prints the wall
# seconds, fails if any run failed.
batch() {
	local u=$1 tool=$2 d=$U/$1
	local cmd
	case $tool in
	box) cmd="$BOX --config $d/box.toml --root $d/box run --rm --network none $REF true" ;;
	podman) cmd="podman --root $d/podman/root --runroot $d/podman/runroot run --rm --network none $REF true" ;;
	ch-run) cmd="ch-run $d/rootfs -- true" ;;
	esac
	as_user "$u" bash -c '
		n=$1; shift
		t0=$(date +%s.%N)
		pids=()
		for i in $(seq "$n"); do $* >/dev/null 2>>"'"$d"'/errors" & pids+=($!); done
		fail=0
		for p in "${pids[@]}"; do wait "$p" || fail=$((fail + 1)); done
		t1=$(date +%s.%N)
		((fail == 0)) || { echo "$fail of $n runs failed" >&2; exit 1; }
		python3 -c "import sys; print(f\"{float(sys.argv[2]) - float(sys.argv[1]):.3f}\")" "$t0" "$t1"
	' batch "$N" $cmd
}

tools_for() { if [[ $1 == "$SUB_USER" ]]; then echo box podman ch-run; else echo box ch-run; fi; }

echo -e "round\tuser\ttool\tseconds\tload" >"$RES/runs.tsv"
uptime >"$RES/load-before.txt"
for r in $(seq $((WARMUP + ROUNDS))); do
	for u in "${USERS[@]}"; do
		mapfile -t tools < <(tools_for "$u" | tr ' ' '\n')
		k=$((r % ${#tools[@]}))
		for t in "${tools[@]:k}" "${tools[@]:0:k}"; do
			s=$(batch "$u" "$t") || die "$t as $u: a batch failed: $(tail -3 "$U/$u/errors" 2>/dev/null)"
			((r <= WARMUP)) || echo -e "$((r - WARMUP))\t$u\t$t\t$s\t$(cut -d' ' -f1 /proc/loadavg)" >>"$RES/runs.tsv"
		done
	done
	say "round $r of $((WARMUP + ROUNDS)) done"
done
uptime >"$RES/load-after.txt"
machine_txt 0 "" "charliecloud=$(USER=root ch-run --version 2>&1)"

python3 - "$RES" "$N" "$SUB_USER" "$NOSUB_USER" >"$RES/summary.md" <<'PY'
import csv, statistics, sys
res, n, sub, nosub = sys.argv[1:]
rows = list(csv.DictReader(open(f"{res}/runs.tsv"), delimiter="\t"))
machine = dict(l.rstrip("\n").split("=", 1) for l in open(f"{res}/machine.txt") if "=" in l)
print(f"### {n} concurrent `run --rm IMG true` on one node (wall seconds per batch)\n")
print(f"Machine: {machine['nproc']} x {machine['cpu']}, {machine['mem']}, {machine['os']}, Linux {machine['kernel']}; load {machine['load_before'].split('load average:')[-1].strip()} before.  ")
print(f"box: {machine['box']}; podman {machine['podman']}; {machine['charliecloud']}.\n")
print("| user | tool | median | min | max | per container (median / n) |")
print("|---|---|---:|---:|---:|---:|")
med = {}
for u in (sub, nosub):
    for t in ("box", "podman", "ch-run"):
        v = [float(r["seconds"]) for r in rows if r["user"] == u and r["tool"] == t]
        if not v:
            continue
        m = statistics.median(v)
        med[u, t] = m
        print(f"| {u} | {t} | {m:.3f} | {min(v):.3f} | {max(v):.3f} | {1000 * m / int(n):.1f} ms |")
print()
for u in (sub, nosub):
    for t in ("podman", "ch-run"):
        if (u, t) in med and (u, "box") in med:
            print(f"- {u}: {t} / box = **{med[u, t] / med[u, 'box']:.2f}**")
PY
cat "$RES/summary.md"
say "results in $RES"
