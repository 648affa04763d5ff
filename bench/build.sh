#!/usr/bin/env bash
# bench/build.sh [ROUNDS]: box build against podman build on the same
# multi-stage Dockerfile and context, round by round, in one run. Three
# cases, each timed as the wall time of one build command:
#   cold     --no-cache: every step runs (the base image is already pulled)
#   nochange the same build again: every step from the cache
#   onefile  one source file changed: its COPY and the steps after it run
# podman runs as the user with subordinate ids only (rootless podman needs
# them); box as both users. Each round runs every tool's three cases, the
# tool order rotated; figures are medians over ROUNDS (default 10) after
# WARMUP (default 1) rounds.
#
#   sudo bash bench/build.sh [ROUNDS]
#   Environment: BENCH_DIR (/var/tmp/box-build-bench), BENCH_USER,
#   BENCH_NOSUB_USER (boxsub, boxnosub), BENCH_PORT (45505), ALPINE_TARBALL,
#   BOX_BIN, FILES (source files in the context, default 200).
#   Results: $BENCH_DIR/results/<timestamp>/ — runs.tsv, summary.md.
#
# Not a test: it measures, it asserts nothing, and CI never runs it.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/bench/lib.sh"
WARMUP=${WARMUP:-1}
alpine_settings /var/tmp/box-build-bench 45505 "${1:-10}"
FILES=${FILES:-200}
[[ $FILES =~ ^[1-9][0-9]*$ ]] || die "FILES must be a positive number, not '$FILES'"
BOX_B=

install_missing podman:podman runc:runc buildah:buildah newuidmap:uidmap docker-registry:docker-registry python3:python3 setpriv:util-linux

standard_setup build.sh
serve_image "$ROOTFS"

# context DIR: the build context, USER's: FILES small source files, a
# config file and a multi-stage Dockerfile whose first stage "compiles"
# the sources and whose second copies the result.
context() {
	local d=$1 i
	mkdir -p "$d/src"
	for i in $(seq "$FILES"); do printf 'source %d\n%0512d\n' "$i" 0 >"$d/src/f$i.txt"; done
	echo "listen 8080" >"$d/app.conf"
	cat >"$d/Dockerfile" <<EOF
FROM $REF AS build
WORKDIR /src
COPY src/ ./
RUN cat *.txt | sha256sum > /out.sum && wc -l *.txt | tail -1 > /out.lines
FROM $REF
ARG VERSION=1
ENV APP_VERSION=\$VERSION
COPY --from=build /out.sum /out.lines /app/
COPY app.conf /etc/app.conf
RUN echo built > /app/stamp
WORKDIR /app
CMD ["cat", "/app/out.sum"]
EOF
}

for u in "${USERS[@]}"; do
	tool_configs "$u"
	box_pull "$u" "" "$U/$u/box" box
	context "$U/$u/ctx"
	chown -R "$u:$u" "$U/$u/ctx"
done
podman_ready

# build USER TOOL CASE: one build; prints the wall seconds.
build() {
	local u=$1 tool=$2 case=$3 d=$U/$1 cmd flags=
	[[ $case != cold ]] || flags=--no-cache
	case $tool in
	box) cmd="$BOX --config $d/box.toml --root $d/box build $flags -q -t app $d/ctx" ;;
	podman) cmd="${PODMAN[*]} build $flags -q --tls-verify=false --network none -t app $d/ctx" ;;
	esac
	as_user "$u" python3 -c '
import subprocess, sys, time
t0 = time.monotonic()
r = subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=open(sys.argv[1], "a"))
t1 = time.monotonic()
if r.returncode != 0:
    sys.exit(f"exit {r.returncode}")
print(f"{t1 - t0:.4f}")' "$d/errors" $cmd
}

tools_for() { if [[ $1 == "$SUB_USER" ]]; then echo box podman; else echo box; fi; }

echo -e "round\tuser\ttool\tcase\tseconds\tload" >"$RES/runs.tsv"
uptime >"$RES/load-before.txt"
n=0
for r in $(seq $((WARMUP + ROUNDS))); do
	for u in "${USERS[@]}"; do
		mapfile -t tools < <(tools_for "$u" | tr ' ' '\n')
		k=$((r % ${#tools[@]}))
		for t in "${tools[@]:k}" "${tools[@]:0:k}"; do
			for c in cold nochange onefile; do
				if [[ $c == onefile ]]; then
					n=$((n + 1))
					as_user "$u" sh -c "echo 'changed $n' > $U/$u/ctx/src/f1.txt"
				fi
				s=$(build "$u" "$t" "$c") || die "$t build ($c) as $u failed: $(tail -3 "$U/$u/errors" 2>/dev/null)"
				((r <= WARMUP)) || echo -e "$((r - WARMUP))\t$u\t$t\t$c\t$s\t$(cut -d' ' -f1 /proc/loadavg)" >>"$RES/runs.tsv"
			done
		done
	done
	say "round $r of $((WARMUP + ROUNDS)) done"
done
uptime >"$RES/load-after.txt"
machine_txt 0 "" "buildah=$(buildah --version 2>/dev/null | cut -d' ' -f3)"

# The image each tool built runs and says what it built.
as_user "$SUB_USER" "$BOX" --config "$U/$SUB_USER/box.toml" --root "$U/$SUB_USER/box" run --rm --network none app >"$RES/box-run.txt" ||
	die "box run of the built image failed"

python3 - "$RES" "$SUB_USER" "$NOSUB_USER" "$FILES" >"$RES/summary.md" <<'PY'
import csv, statistics, sys
res, sub, nosub, files = sys.argv[1:]
rows = list(csv.DictReader(open(f"{res}/runs.tsv"), delimiter="\t"))
machine = dict(l.rstrip("\n").split("=", 1) for l in open(f"{res}/machine.txt") if "=" in l)
print(f"### box build vs podman build: a two-stage Dockerfile, {files} source files (wall seconds)\n")
print(f"Machine: {machine['nproc']} x {machine['cpu']}, {machine['mem']}, {machine['os']}, Linux {machine['kernel']}; load {machine['load_before'].split('load average:')[-1].strip()} before.  ")
print(f"box: {machine['box']}; podman {machine['podman']}; buildah {machine['buildah']}.\n")
print("| user | tool | case | median | min | max |")
print("|---|---|---|---:|---:|---:|")
med = {}
for u in (sub, nosub):
    for t in ("box", "podman"):
        for c in ("cold", "nochange", "onefile"):
            v = [float(r["seconds"]) for r in rows if r["user"] == u and r["tool"] == t and r["case"] == c]
            if not v:
                continue
            med[u, t, c] = m = statistics.median(v)
            print(f"| {u} | {t} | {c} | {m:.3f} | {min(v):.3f} | {max(v):.3f} |")
print()
for c in ("cold", "nochange", "onefile"):
    if (sub, "podman", c) in med:
        print(f"- {c}: podman / box = **{med[sub, 'podman', c] / med[sub, 'box', c]:.2f}** ({sub})")
PY
cat "$RES/summary.md"
say "results in $RES"
