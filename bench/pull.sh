#!/usr/bin/env bash
# bench/pull.sh — cold-pull benchmark: box vs podman vs ch-image vs a
# single-stream `gzip -dc | tar -x` floor. Not a test; never run in CI.
#
# WHAT IT MEASURES
#   Wall time (and user/sys CPU) of pulling one multi-layer image from a local
#   registry into an EMPTY store, as an unprivileged user:
#     box       box --config F --root FRESH pull REF    (user namespace, subuids)
#     podman    podman --root FRESH --runroot FRESH2 --storage-driver overlay
#               pull --tls-verify=false REF              (rootless, native overlay)
#     ch-image  ch-image -s FRESH pull --tls-no-verify REF   (charliecloud)
#     floor     for each blob: gzip -dc BLOB | tar -x -C FRESH   (one stream
#               at a time, blobs read from local files: no network, no
#               digest checks, no id mapping, no fsync)
#   The image (built once by bench/mkimage and cached) is:
#     layer 0  Debian bookworm minbase + python3 + perl (debootstrap), ~10k
#              entries — the "Debian-sized" layer
#     layer 1  the Go toolchain tree /usr/local/go (~17k entries)
#     layer 2  64 MiB of random data in 8 files (incompressible)
#     layer 3  a few small files (an "app" layer)
#   gzip level 6, docker media types, ≥150 MB compressed in total.
#   Every run gets a new empty store directory and `sync` runs before it;
#   the page cache is NOT dropped, so the registry's blobs (and the tools'
#   own files) are in memory for every tool alike. One warm-up round of box,
#   podman and the floor comes first and is not counted. Stores live on the
#   filesystem of $BENCH_DIR (default /var/tmp/box-bench).
#
#   ORDER, AND WHY ch-image GOES LAST. Each round runs box, podman and the
#   floor in an order that cycles through all 6 permutations (so each
#   follows each equally often), then ch-image. On ext4 WITHOUT a journal
#   (as / is on the machine in docs/BENCHMARKS.md), the inode allocator
#   skips inodes freed in the last minutes (recently_deleted() in
#   fs/ext4/ialloc.c, only checked when there is no journal), and creating
#   files becomes 3-6x slower in system time for ~2-4 minutes after a large
#   delete: a 1.1 s `tar -x` of the Debian layer took 6.3 s 130 s after an
#   `rm -rf` of 30k files and 1.6 s after 250 s. ch-image's pull itself
#   unlinks ~25k files (its git build cache), which penalised whatever ran
#   next. So: ch-image runs last in each round, stores are deleted only on
#   exit, and before any run the script waits until the last large delete
#   (ch-image's run, or the stores of a previous invocation, stamped in
#   $BENCH_DIR/.last-delete) is BENCH_SETTLE seconds old (default 300 on an
#   ext4 without journal, 0 elsewhere).
#
# HOW TO RUN
#   sudo bash bench/pull.sh [ROUNDS]          # ROUNDS defaults to 5
#   Environment: BENCH_DIR (work dir, default /var/tmp/box-bench),
#   BENCH_USER (default boxsub; needs a /etc/subuid and /etc/subgid range),
#   BENCH_PORT (registry port, default 45443), BENCH_SETTLE (seconds, see
#   ORDER above), BENCH_QUIET_MAX and BENCH_OTHER_MAX (see "other load"
#   below), BENCH_PROFILE=1 (after the warm-up, profile box pulls: --debug
#   with /usr/bin/time -v and per-layer completion times, strace -f -c, and
#   a system-wide perf record if perf is installed).
#   Results: $BENCH_DIR/results/<timestamp>/{runs.tsv,summary.md,...};
#   summary.md is printed at the end.
#
# WHAT IT NEEDS
#   Root (for set-up only: packages, registry, deleting stores), Go ≥ 1.26 at
#   /usr/local/go/bin, Debian 12 with its apt mirror reachable (debootstrap
#   fetches the Debian layer once), and the user above with subordinate ids.
#   Missing Debian packages (podman, charliecloud, python3-lark,
#   docker-registry, uidmap, debootstrap, openssl, curl, time, strace) are
#   installed with apt-get. About 4 GB free on $BENCH_DIR per round (+8 GB).
set -euo pipefail

ROUNDS=${1:-5}
BENCH_DIR=${BENCH_DIR:-/var/tmp/box-bench}
BENCH_USER=${BENCH_USER:-boxsub}
PORT=${BENCH_PORT:-45443}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# A clean PATH: root's own (pyenv, ~/go/bin) must not leak into the tools.
export PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
REF=127.0.0.1:$PORT/bench/pull:latest

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'pull.sh: %s\n' "$*" >&2; exit 1; }

[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive number, not '$ROUNDS'"
[[ $(id -u) -eq 0 ]] || die "run as root (sudo bash bench/pull.sh); the pulls themselves run as $BENCH_USER"
id "$BENCH_USER" >/dev/null 2>&1 || die "no user $BENCH_USER (useradd -m $BENCH_USER, and give it a range in /etc/subuid and /etc/subgid)"
grep -q "^$BENCH_USER:" /etc/subuid && grep -q "^$BENCH_USER:" /etc/subgid ||
	die "$BENCH_USER has no range in /etc/subuid or /etc/subgid"
UHOME=$(getent passwd "$BENCH_USER" | cut -d: -f6)
UID_=$(id -u "$BENCH_USER")
GID_=$(id -g "$BENCH_USER")

# --- packages ---------------------------------------------------------------
. "$REPO/bench/lib.sh"
pkgs=(podman:podman ch-image:charliecloud docker-registry:docker-registry
	newuidmap:uidmap debootstrap:debootstrap openssl:openssl curl:curl
	/usr/bin/time:time strace:strace git:git)
/usr/bin/python3 -c 'import lark' 2>/dev/null || pkgs+=(:python3-lark)
install_missing "${pkgs[@]}"
command -v go >/dev/null || die "no Go at /usr/local/go/bin"

mkdir -p "$BENCH_DIR"
chmod 755 "$BENCH_DIR"
RES=$BENCH_DIR/results/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$RES"
STORES=$BENCH_DIR/stores          # fresh store dirs go here, one per run
RUNDIR=$BENCH_DIR/run             # the user's XDG_RUNTIME_DIR and tool configs
# Large deletes are stamped; settle waits until the last is BENCH_SETTLE old.
STAMP=$BENCH_DIR/.last-delete
stamp_delete() { sync; date +%s >"$STAMP"; }
fsdev=$(findmnt -n -o SOURCE --target "$BENCH_DIR")
fstype=$(findmnt -n -o FSTYPE --target "$BENCH_DIR")
journal=yes
# /sys/fs/ext4/DEV/journal_task says "<none>" when there is no journal.
if [[ $fstype == ext4 && $(cat "/sys/fs/ext4/$(basename "$(readlink -f "$fsdev")")/journal_task" 2>/dev/null) == "<none>" ]]; then
	journal=no
fi
SETTLE=${BENCH_SETTLE:-$([[ $fstype == ext4 && $journal == no ]] && echo 300 || echo 0)}
settle() {
	local last now
	last=$(cat "$STAMP" 2>/dev/null || echo 0)
	now=$(date +%s)
	if ((now - last < SETTLE)); then
		say "waiting $((SETTLE - now + last)) s after the last large delete (ext4 without journal; see ORDER at the top)"
		sleep $((SETTLE - now + last))
	fi
}
if [[ -e $STORES ]]; then
	rm -rf "$STORES"
	stamp_delete
fi
# Other load on the machine (another benchmark, a build) skews wall times on
# 2 cores: before each run, wait (at most BENCH_QUIET_MAX s, default 600)
# until the whole machine used < 5% of a core for 2 s, and record the CPU
# time used by everything else during each run ("other CPU", which includes
# the registry serving the blobs over TLS).
busy_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
quiet() {
	local a b waited=0 said=
	while :; do
		a=$(busy_ticks); sleep 2; b=$(busy_ticks)
		(((b - a) * 100 / $(getconf CLK_TCK) < 10)) && return
		[[ -n $said ]] || { say "waiting for other load on the machine to stop"; said=1; }
		waited=$((waited + 2))
		((waited < ${BENCH_QUIET_MAX:-600})) || { say "still busy; measuring anyway"; return; }
	done
}
rm -rf "$RUNDIR"
avail=$(df --output=avail -k "$BENCH_DIR" | tail -1)
((avail > (ROUNDS + 2) * 4 * 1024 * 1024)) || die "need $(((ROUNDS + 2) * 4)) GB free on $BENCH_DIR (every run's store is kept until the end)"
mkdir -p "$STORES" "$RUNDIR"
chown "$UID_:$GID_" "$STORES" "$RUNDIR"
chmod 700 "$RUNDIR"

REG_PID=
cleanup() {
	local rc=$?
	set +e
	[[ -n $REG_PID ]] && kill "$REG_PID" 2>/dev/null && wait "$REG_PID" 2>/dev/null
	# podman's rootless pause process, started by this script's pulls.
	local pp=$RUNDIR/libpod/tmp/pause.pid
	[[ -f $pp ]] && kill "$(cat "$pp")" 2>/dev/null
	if [[ -d $STORES ]]; then rm -rf "$STORES"; stamp_delete; fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ch-image's build cache (on by default) commits each pulled image to git,
# which needs an identity; a real user has one in ~/.gitconfig.
GIT_ID=(GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@localhost GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@localhost)
# AS_USER CMD...: run CMD as the bench user with a minimal environment.
AS_USER=(setpriv --reuid="$UID_" --regid="$GID_" --init-groups
	env -i HOME="$UHOME" USER="$BENCH_USER" LOGNAME="$BENCH_USER" PATH="$PATH"
	XDG_RUNTIME_DIR="$RUNDIR" LANG=C.UTF-8 "${GIT_ID[@]}"
	CONTAINERS_STORAGE_CONF="$RUNDIR/storage.conf" CONTAINERS_CONF="$RUNDIR/containers.conf")

# --- box --------------------------------------------------------------------
BOX=$BENCH_DIR/box
say "building box from $REPO"
for try in 1 2 3 4 5 6; do
	if (cd "$REPO" && CGO_ENABLED=0 go build -trimpath -o "$BOX.new" .) 2>"$RES/build.log"; then
		mv "$BOX.new" "$BOX"
		break
	fi
	((try < 6)) || die "box does not build: $(tail -5 "$RES/build.log")"
	say "box does not build right now (someone mid-edit?); retrying in 60 s"
	sleep 60
done
chmod 755 "$BOX"
(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null && git status --porcelain 2>/dev/null | wc -l) >"$RES/box-commit.txt" || true

# --- image sources ----------------------------------------------------------
SRC=$BENCH_DIR/src
mkdir -p "$SRC"
if [[ ! -f $SRC/debian.done ]]; then
	say "debootstrap bookworm minbase + python3 + perl (once)"
	rm -rf "$SRC/debian"
	debootstrap --variant=minbase --include=python3,perl bookworm "$SRC/debian" \
		http://deb.debian.org/debian >"$SRC/debootstrap.log" 2>&1 ||
		die "debootstrap failed; see $SRC/debootstrap.log"
	# As a published image has it: no device nodes, no package cache or lists.
	rm -rf "$SRC/debian/dev/"* "$SRC/debian/var/cache/apt/archives/"*.deb \
		"$SRC/debian/var/lib/apt/lists/"* "$SRC/debian/var/cache/apt/"*.bin
	touch "$SRC/debian.done"
fi
if [[ ! -f $SRC/data.done ]]; then
	say "random data layer (once)"
	rm -rf "$SRC/data"
	mkdir -p "$SRC/data"
	for i in 0 1 2 3 4 5 6 7; do head -c 8M /dev/urandom >"$SRC/data/blob$i.bin"; done
	touch "$SRC/data.done"
fi
if [[ ! -f $SRC/app.done ]]; then
	rm -rf "$SRC/app"
	mkdir -p "$SRC/app/etc"
	printf '#!/bin/sh\nexec go version\n' >"$SRC/app/entrypoint.sh"
	chmod 755 "$SRC/app/entrypoint.sh"
	printf 'listen = ":8080"\n' >"$SRC/app/etc/app.toml"
	cp "$REPO/bench/mkimage/main.go" "$SRC/app/main.go"
	touch "$SRC/app.done"
fi

# --- registry ---------------------------------------------------------------
REG_TLS=1 serve_registry

# --- build and push the image -----------------------------------------------
CACHE=$BENCH_DIR/blobs
say "building (cached in $CACHE) and pushing $REF"
(cd "$REPO" && go build -o "$BENCH_DIR/mkimage" ./bench/mkimage)
"$BENCH_DIR/mkimage" -cache "$CACHE" -ref "$REF" -insecure \
	"$SRC/debian=/" "/usr/local/go=/usr/local/go" "$SRC/data=/data" "$SRC/app=/app" 2>&1 | tee "$RES/mkimage.log" >&2
chmod -R a+rX "$CACHE"
cp "$CACHE/image.json" "$RES/image.json"
BLOBS=()
while IFS= read -r b; do BLOBS+=("$b"); done < <(ls "$CACHE"/layer-*.tar.gz | sort -V)

# --- tool configuration -----------------------------------------------------
cat >"$RUNDIR/box.toml" <<EOF
[registries."127.0.0.1:$PORT"]
insecure = true
EOF
podman_storage_conf "$RUNDIR/storage.conf" "$STORES/podman-info" "$RUNDIR/podman-runroot"
cat >"$RUNDIR/containers.conf" <<EOF
[engine]
events_logger = "file"
cgroup_manager = "cgroupfs"
EOF
chown "$UID_:$GID_" "$RUNDIR"/*
mkdir -p "$STORES/podman-info"
chown "$UID_:$GID_" "$STORES/podman-info"
"${AS_USER[@]}" podman info --format json >"$RES/podman-info.json" 2>"$RES/podman-info.err" ||
	die "podman info failed: $(cat "$RES/podman-info.err")"
drv=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["store"]; print(s["graphDriverName"], s["graphStatus"].get("Native Overlay Diff"), "mount_program" in json.dumps(s["graphOptions"]))' "$RES/podman-info.json")
[[ $drv == "overlay true False" ]] || die "podman is not on native overlay (driver, native diff, mount_program: $drv)"
rm -rf "$STORES/podman-info"

# --- the runs ---------------------------------------------------------------
# run TOOL ROUND: one cold pull into a fresh store; appends to runs.tsv. A
# run during which other processes used more than BENCH_OTHER_MAX s of CPU
# (default 1.0; the registry itself uses ~0.3-0.6 s, and the kernel's
# writeback threads flushing for box's syncfs count here too) is marked
# unclean and repeated, at most twice, in a new store. The summary gives
# medians over clean runs and over every round's first attempt.
run() {
	local tool=$1 round=$2 attempt
	for attempt in 1 2 3; do
		run1 "$tool" "$round" "$attempt" && return
		say "other load during $tool's run; repeating it"
	done
}
run1() {
	local tool=$1 round=$2 attempt=$3
	local d=$STORES/$tool-$round-$attempt tf=$RES/time.$tool.$round.$attempt log=$RES/log.$tool.$round.$attempt
	mkdir -p "$d"
	chown "$UID_:$GID_" "$d"
	local cmd
	case $tool in
	box) cmd=("$BOX" --config "$RUNDIR/box.toml" --root "$d/store" pull "$REF") ;;
	podman) cmd=(podman --root "$d/root" --runroot "$d/run" --storage-driver overlay pull --tls-verify=false "$REF") ;;
	ch-image) cmd=(ch-image -s "$d/store" pull --tls-no-verify "$REF") ;;
	floor) cmd=(sh -c 'set -e; d=$1; shift; mkdir "$d/rootfs"; for b; do gzip -dc "$b" | tar -x -C "$d/rootfs"; done' floor "$d" "${BLOBS[@]}") ;;
	esac
	sync
	quiet
	local t0 t1 rc=0 b0 b1
	b0=$(busy_ticks)
	t0=$EPOCHREALTIME
	/usr/bin/time -f '%e %U %S %M' -o "$tf" "${AS_USER[@]}" "${cmd[@]}" >"$log" 2>&1 || rc=$?
	t1=$EPOCHREALTIME
	b1=$(busy_ticks)
	if ((rc != 0)); then
		tail -20 "$log" >&2
		die "$tool failed in round $round (exit $rc); log in $log"
	fi
	local wall user sys rss
	wall=$(python3 -c "print(f'{$t1-$t0:.3f}')")
	read -r _ user sys rss <"$tf"
	# Entries on disk, to check every tool unpacked the whole image (round 1 only).
	local entries=-
	if [[ $round == 1 ]]; then entries=$(find "$d" -xdev | wc -l); fi
	local other clean
	other=$(python3 -c "print(f'{max(0, ($b1-$b0)/$(getconf CLK_TCK) - $user - $sys):.2f}')")
	clean=$(python3 -c "print(int($other <= ${BENCH_OTHER_MAX:-1.0}))")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$tool" "$wall" "$user" "$sys" "$rss" "$entries" "$other" "$clean" >>"$RES/runs.tsv"
	printf '   round %s %-8s %7ss  (user %ss sys %ss, other CPU %ss)\n' "$round" "$tool" "$wall" "$user" "$sys" "$other" >&2
	# The store stays until the end: see ORDER at the top.
	((clean))
}

printf 'round\ttool\twall_s\tuser_s\tsys_s\tmaxrss_kb\tentries\tother_cpu_s\tclean\n' >"$RES/runs.tsv"
printf 'fs\t%s %s journal=%s settle=%ss\n' "$fstype" "$fsdev" "$journal" "$SETTLE" >"$RES/fs.txt"
PERMS=("box podman floor" "podman floor box" "floor box podman"
	"box floor podman" "floor podman box" "podman box floor")
settle
say "warm-up round (not counted)"
for t in box podman floor; do run "$t" 0; done
# ch-image's code and Python modules into the page cache, without a pull.
"${AS_USER[@]}" ch-image -s "$STORES/ch-image-warm" list >/dev/null 2>&1 || true
sed -i '/^0\t/d' "$RES/runs.tsv"
# --- optional profile of box pulls (after the warm-up; nothing is deleted) ---
if [[ ${BENCH_PROFILE:-0} == 1 ]]; then
	say "profiling box pulls into $RES/profile.*"
	prof() { # prof NAME [ROOT-WRAPPER...]: one cold box pull (fresh store), as the user
		local P=$STORES/profile-$1
		shift
		mkdir -p "$P"; chown "$UID_:$GID_" "$P"; sync; quiet
		echo START >&2
		"$@" "${AS_USER[@]}" "$BOX" --debug --config "$RUNDIR/box.toml" --root "$P/store" pull "$REF"
	}
	# Per-layer completion times: box prints a line per layer when stderr is
	# not a terminal; each line is stamped with seconds since box started.
	prof time /usr/bin/time -v 2>&1 | while IFS= read -r l; do
		printf '%s %s\n' "$EPOCHREALTIME" "$l"
	done | awk '$2 == "START" { t0 = $1; next } { printf "%6.3f %s\n", $1 - t0, substr($0, index($0, " ") + 1) }' \
		>"$RES/profile.time-v.txt"
	prof strace strace -f -c -o "$RES/profile.strace.txt" >/dev/null 2>&1 || true
	if perf version >/dev/null 2>&1; then
		prof perf perf record -q -a -g -o "$RES/profile.perf.data" -- >/dev/null 2>&1 || true
		perf report -i "$RES/profile.perf.data" --no-children --sort comm,dso,sym --stdio 2>/dev/null |
			grep -v '^$' | head -150 >"$RES/profile.perf.txt" || true
		perf report -i "$RES/profile.perf.data" --no-children -g none --sort comm,dso --stdio 2>/dev/null |
			grep -v '^#' | grep -v '^$' | head -30 >"$RES/profile.perf-dso.txt" || true
	fi
fi
for r in $(seq "$ROUNDS"); do
	say "round $r/$ROUNDS"
	settle
	for t in ${PERMS[$(((r - 1) % 6))]}; do run "$t" "$r"; done
	run ch-image "$r"
	stamp_delete
done

# --- summary ----------------------------------------------------------------
python3 - "$RES" "$ROUNDS" <<'EOF' >"$RES/summary.md"
import statistics, sys
res, rounds = sys.argv[1], int(sys.argv[2])
rows = [l.rstrip("\n").split("\t") for l in open(f"{res}/runs.tsv")][1:]
tools = ["box", "podman", "ch-image", "floor"]
clean = {t: [r for r in rows if r[1] == t and r[8] == "1"] for t in tools}
unclean = sum(1 for r in rows if r[8] != "1")
print(f"{rounds} rounds (box, podman, floor in rotating order, then ch-image); wall seconds; "
      "CPU = user+sys of the tool's whole process tree; other CPU = everything else on the machine "
      f"during the run (the registry, kernel threads). {unclean} run(s) with other CPU > 1 s were "
      "repeated and are left out.\n")
print("| tool | runs | median | min | max | median CPU (user+sys) | CPU / wall | entries on disk | median other CPU |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
med = {}
for t in tools:
    rs = clean[t] or [r for r in rows if r[1] == t]
    w = [float(r[2]) for r in rs]
    cpu = [float(r[3]) + float(r[4]) for r in rs]
    ent = next((r[6] for r in rows if r[1] == t and r[6] != "-"), "-")
    med[t] = statistics.median(w)
    mc = statistics.median(cpu)
    oc = statistics.median(float(r[7]) for r in rs)
    print(f"| {t} | {len(rs)} | {med[t]:.2f} s | {min(w):.2f} s | {max(w):.2f} s | {mc:.2f} s | {mc/med[t]:.2f} | {ent} | {oc:.2f} s |")
# First attempts only: unbiased by the repeat rule (box's own writeback after
# its syncfs runs in kernel threads and so counts as "other CPU" too).
first = {}
for r in rows:
    first.setdefault((r[0], r[1]), r)
fm = {t: statistics.median(float(r[2]) for (rd, tt), r in first.items() if tt == t) for t in tools}
print()
print("First attempt of every round, repeats ignored (medians): " +
      ", ".join(f"{t} {fm[t]:.2f} s" for t in tools) +
      f"; podman / box {fm['podman']/fm['box']:.2f}×, ch-image / box {fm['ch-image']/fm['box']:.2f}×, box / floor {fm['box']/fm['floor']:.2f}×.")
print()
print(f"- podman / box: **{med['podman']/med['box']:.2f}×** (target ≥ 3×: {'met' if med['podman']/med['box'] >= 3 else 'NOT met'})")
print(f"- ch-image / box: **{med['ch-image']/med['box']:.2f}×**")
print(f"- box / floor: **{med['box']/med['floor']:.2f}×** (target ≤ 1.3×: {'met' if med['box']/med['floor'] <= 1.3 else 'NOT met'})")
EOF
cat "$RES/summary.md"

say "results in $RES"
