# bench/lib.sh — shell pieces the benchmark scripts share (sourced, not run).
#
# alpine_settings sets the settings start.sh and exec.sh share, results_dir
# RES. Callers set U (per-user work dirs: U/USER/{run,storage.conf,...})
# before using as_user; REPO (the checkout) for box_binaries; BENCH_DIR, RES
# and PORT for serve_registry, and REF and MKIMAGE for serve_image; USERS,
# REPO, WARMUP and ROUNDS for timed_rounds.

# say MSG: progress, to stderr. die MSG: the error, named after the script,
# and exit 1.
say() { printf '== %s\n' "$*" >&2; }
die() {
	printf '%s: %s\n' "${0##*/}" "$*" >&2
	exit 1
}

# alpine_settings DIR PORT [ROUNDS]: the settings start.sh and exec.sh share,
# from the environment and the script's argument ROUNDS (default 60), checked:
# ROUNDS, WARMUP (default 5), BENCH_DIR (default DIR), SUB_USER and
# NOSUB_USER (BENCH_USER, BENCH_NOSUB_USER; check_users sets USERS), PORT
# (BENCH_PORT, default PORT), TARBALL (ALPINE_TARBALL) and REF, the name
# the image is pushed under; BOX_BIN and BOX_B (box_binaries). Also a clean
# PATH and locale. Dies unless run as root.
alpine_settings() {
	# A clean PATH: root's own (pyenv, ~/go/bin) must not leak into the tools.
	export PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	export LC_ALL=C.UTF-8
	ROUNDS=${3:-60}
	WARMUP=${WARMUP:-5}
	BENCH_DIR=${BENCH_DIR:-$1}
	SUB_USER=${BENCH_USER:-boxsub}
	NOSUB_USER=${BENCH_NOSUB_USER:-boxnosub}
	PORT=${BENCH_PORT:-$2}
	TARBALL=${ALPINE_TARBALL:-/work/shared/images/alpine-minirootfs-3.20.3-x86_64.tar.gz}
	REF=127.0.0.1:$PORT/bench/alpine:3.20.3
	BOX_BIN=${BOX_BIN:-}
	BOX_B=${BOX_B:-}
	[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive number, not '$ROUNDS'"
	[[ $WARMUP =~ ^[0-9]+$ ]] || die "WARMUP must be a number, not '$WARMUP'"
	local v
	for v in BOX_BIN BOX_B; do
		[[ -z ${!v} || (-f ${!v} && -x ${!v}) ]] || die "$v '${!v}' is not an executable file"
	done
	[[ $(id -u) -eq 0 ]] || die "run as root (sudo bash bench/${0##*/}); box and the tools it is compared with run as $SUB_USER and $NOSUB_USER"
	[[ -f $TARBALL ]] || die "no Alpine tarball at $TARBALL (set ALPINE_TARBALL)"
	check_users
}

# results_dir: BENCH_DIR (made, mode 755) and RES, a new directory for this
# run's results in BENCH_DIR/results.
results_dir() {
	mkdir -p "$BENCH_DIR"
	chmod 755 "$BENCH_DIR"
	RES=$BENCH_DIR/results/$(date -u +%Y%m%dT%H%M%SZ)
	mkdir -p "$RES"
}

# work_dirs: empty U and BENCH_DIR/bin, which every user can enter, and
# BENCH_DIR as the working directory (box and podman record the cwd, so
# every user must be able to enter it). rm_work_dirs removes them again with
# the registry's data and the rootfs, for the clean-up.
work_dirs() {
	rm_work_dirs
	mkdir -p "$U" "$BENCH_DIR/bin"
	chmod 755 "$U" "$BENCH_DIR/bin"
	cd "$BENCH_DIR"
}
rm_work_dirs() { rm -rf "$U" "$BENCH_DIR/registry" "$BENCH_DIR/rootfs" "$BENCH_DIR/bin"; }

# standard_setup NAME: what build.sh and hpc.sh start with: the results and
# work directories (U), a clean-up on exit (also on error or ^C) that stops
# the registry and podman's pause process and removes the work directories,
# naming NAME and the partial results on failure, box's binaries and the
# Alpine rootfs.
standard_setup() {
	BENCH_NAME=$1
	results_dir
	U=$BENCH_DIR/u
	REG_PID=
	trap standard_cleanup EXIT
	trap 'exit 130' INT TERM
	work_dirs
	box_binaries
	alpine_rootfs
}
standard_cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	stop_registry_and_pause "$U/$SUB_USER/run/libpod/tmp/pause.pid"
	rm_work_dirs
	((rc == 0)) || printf '%s: failed (exit %s); partial results in %s\n' "$BENCH_NAME" "$rc" "$RES" >&2
	exit "$rc"
}

# stop_registry_and_pause PIDFILE: for the clean-up, stops the registry
# (REG_PID) and the rootless pause process whose pid is in PIDFILE: podman
# writes it under the XDG_RUNTIME_DIR the script gave it, so the process is
# the one this script's podman runs started.
stop_registry_and_pause() {
	if [[ -n $REG_PID ]]; then
		kill "$REG_PID" 2>/dev/null && wait "$REG_PID" 2>/dev/null
	fi
	if [[ -f $1 ]]; then
		kill "$(cat "$1")" 2>/dev/null
	fi
	return 0
}

# install_missing CMD:PACKAGE...: apt-get install the packages whose command
# is not on PATH (an apt-get update first only if the install fails); an
# empty CMD (:PACKAGE) installs PACKAGE whatever is on PATH.
install_missing() {
	local need=() p
	for p in "$@"; do
		[[ -n ${p%%:*} ]] && command -v "${p%%:*}" >/dev/null 2>&1 || need+=("${p#*:}")
	done
	((${#need[@]})) || return 0
	say "installing ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}" >/dev/null ||
		{ apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}" >/dev/null; } ||
		die "apt-get install ${need[*]} failed"
}

uhome() { getent passwd "$1" | cut -d: -f6; }
# user_env USER: the environment every run of USER gets (nothing else leaks in).
user_env() {
	local u=$1
	printf '%s\n' HOME="$(uhome "$u")" USER="$u" LOGNAME="$u" PATH="$PATH" LANG=C.UTF-8 \
		XDG_RUNTIME_DIR="$U/$u/run" CONTAINERS_STORAGE_CONF="$U/$u/storage.conf" \
		CONTAINERS_CONF="$U/$u/containers.conf" BENCH_SETTLE_MS="${SETTLE_MS:-0}"
}
# as_user USER CMD...: run CMD as USER with only user_env.
as_user() {
	local u=$1
	shift
	local env=()
	mapfile -t env < <(user_env "$u")
	setpriv --reuid="$u" --regid="$u" --init-groups env -i "${env[@]}" "$@"
}

# write_cmds: U/USER/cmds.jsonl for every user, what the caller's function
# cmds USER prints: the commands timed_rounds runs.
write_cmds() {
	local u
	for u in "${USERS[@]}"; do
		cmds "$u" >"$U/$u/cmds.jsonl"
		chown "$u:$u" "$U/$u/cmds.jsonl"
	done
}

# timed_rounds: WARMUP uncounted rounds, then ROUNDS rounds; in round R each
# user in USERS (the order alternating) runs bench/timer.py once: one run of
# each command in U/USER/cmds.jsonl, the order rotated by R. Appends each
# user's runs to RES/runs.tsv and the load average per round to
# RES/load.txt. Any failed run stops the script.
timed_rounds() {
	local timer=$BENCH_DIR/bin/timer.py u r
	install -m 644 "$REPO/bench/timer.py" "$timer"
	for u in "${USERS[@]}"; do
		mkdir -p "$U/$u/err"
		: >"$U/$u/runs.tsv"
		chown "$u:$u" "$U/$u/err" "$U/$u/runs.tsv"
	done
	round() {
		local r=$1 i u
		for i in 0 1; do
			u=${USERS[$(((i + r) % ${#USERS[@]}))]}
			as_user "$u" python3 "$timer" "$U/$u/cmds.jsonl" "$U/$u/runs.tsv" "$r" "$u" "$r" "$U/$u/err" ||
				die "timed run failed (round $r, user $u)"
		done
		echo "$r $(cat /proc/loadavg)" >>"$RES/load.txt"
	}
	uptime >"$RES/load-before.txt"
	say "warm-up: $WARMUP rounds (not counted)"
	for r in $(seq "$WARMUP"); do round "-$r"; done
	say "$ROUNDS timed rounds"
	for r in $(seq "$ROUNDS"); do
		round "$r"
		if ((r % 10 == 0)); then say "  round $r/$ROUNDS"; fi
	done
	uptime >"$RES/load-after.txt"
	printf 'round\tuser\ttool\twall_ms\tcpu_ms\n' >"$RES/runs.tsv"
	for u in "${USERS[@]}"; do grep -v $'^-' "$U/$u/runs.tsv" >>"$RES/runs.tsv" || true; done
}

# serve_registry: a docker-registry on 127.0.0.1:PORT, its data in
# BENCH_DIR/registry, REG_PID its pid (for the caller's clean-up). Plain
# HTTP, or with REG_TLS=1 TLS with a self-signed certificate for 127.0.0.1
# made there once (clients then skip verification). Dies if PORT is taken.
serve_registry() {
	local i scheme=http tls=""
	REG=$BENCH_DIR/registry
	mkdir -p "$REG"
	if [[ ${REG_TLS:-0} == 1 ]]; then
		scheme=https
		if [[ ! -f $REG/cert.pem ]]; then
			openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=127.0.0.1 \
				-addext subjectAltName=IP:127.0.0.1 -keyout "$REG/key.pem" -out "$REG/cert.pem" 2>/dev/null ||
				die "openssl could not make the registry's certificate"
		fi
		tls=$'\n  tls:\n    certificate: '"$REG/cert.pem"$'\n    key: '"$REG/key.pem"
	fi
	printf '%s\n' "version: 0.1" "log:" "  level: error" "  accesslog:" "    disabled: true" \
		"storage:" "  filesystem:" "    rootdirectory: $REG/data" "http:" "  addr: 127.0.0.1:$PORT$tls" >"$REG/config.yml"
	if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
		die "port $PORT on 127.0.0.1 is in use (set BENCH_PORT)"
	fi
	docker-registry serve "$REG/config.yml" >"$RES/registry.log" 2>&1 &
	REG_PID=$!
	for i in $(seq 100); do
		curl -sk -o /dev/null "$scheme://127.0.0.1:$PORT/v2/" && break
		kill -0 "$REG_PID" 2>/dev/null || die "docker-registry died: $(cat "$RES/registry.log")"
		((i < 100)) || die "docker-registry does not answer on 127.0.0.1:$PORT"
		sleep 0.1
	done
}

# serve_image ROOTFS: serve_registry (plain HTTP) holding ROOTFS as the
# one-layer image REF, pushed with MKIMAGE.
serve_image() {
	serve_registry
	say "pushing $REF"
	"$MKIMAGE" -cache "$BENCH_DIR/blobs" -ref "$REF" -insecure "$1=/" >"$RES/mkimage.log" 2>&1 ||
		die "mkimage failed: $(tail -5 "$RES/mkimage.log")"
}

# check_sub_user USER: USER exists and has subordinate id ranges.
check_sub_user() {
	id "$1" >/dev/null 2>&1 || die "no user $1 (useradd -m $1)"
	grep -q "^$1:" /etc/subuid && grep -q "^$1:" /etc/subgid ||
		die "$1 has no range in /etc/subuid or /etc/subgid"
}

# check_users: SUB_USER exists with subordinate id ranges and NOSUB_USER
# exists without; sets USERS to both.
check_users() {
	check_sub_user "$SUB_USER"
	id "$NOSUB_USER" >/dev/null 2>&1 || die "no user $NOSUB_USER (useradd -m $NOSUB_USER)"
	if grep -q "^$NOSUB_USER:" /etc/subuid || grep -q "^$NOSUB_USER:" /etc/subgid; then
		die "$NOSUB_USER has a range in /etc/subuid or /etc/subgid; it is meant to be the user without one"
	fi
	USERS=("$SUB_USER" "$NOSUB_USER")
}

# podman_storage_conf FILE GRAPHROOT RUNROOT: podman's storage.conf with
# native overlay: no mount_program (fuse-overlayfs is installed on these
# machines and would otherwise be picked up by default).
podman_storage_conf() {
	printf '%s\n' '[storage]' 'driver = "overlay"' "graphroot = \"$2\"" "runroot = \"$3\"" \
		'[storage.options.overlay]' 'mount_program = ""' >"$1"
}

# tool_configs USER [DIR]: box's config (the registry is plain HTTP) and
# podman's (native overlay: no mount_program, which fuse-overlayfs would
# otherwise be picked up as; runc; cgroupfs; the store in DIR/podman) in DIR,
# by default U/USER; USER's files.
tool_configs() {
	local u=$1 d=${2:-$U/$1}
	cat >"$d/box.toml" <<EOF
[registries."127.0.0.1:$PORT"]
insecure = true
EOF
	podman_storage_conf "$d/storage.conf" "$d/podman/root" "$d/podman/runroot"
	cat >"$d/containers.conf" <<EOF
[engine]
events_logger = "file"
cgroup_manager = "cgroupfs"
runtime = "runc"
EOF
	chown "$u:$u" "$d"/*.toml "$d"/*.conf
}

# box_binaries [SYM]: the box binaries in BENCH_DIR/bin, where every user
# can run them, and MKIMAGE (bench/mkimage), built from a snapshot of REPO's
# work tree, so that an edit made meanwhile by someone else cannot change a
# build half-way:
#   BOX     BOX_BIN when it is set, else box built with release flags
#           (RES/box-commit.txt: its commit and the number of uncommitted
#           files)
#   BOXSYM  when SYM (what needs it, for the error) is given: the same code
#           with its symbol table; BOX_BIN itself, which must then have one,
#           or built from the same snapshot as BOX
#   BOXB    BOX_B when it is set, else empty
# BOX_BIN and BOX_B are copied: a rebuild of either during the run changes
# nothing.
box_binaries() {
	local sym=${1:-} bin=$BENCH_DIR/bin try
	command -v go >/dev/null || die "no Go at /usr/local/go/bin"
	BOX=$bin/box
	BOXSYM=${sym:+$bin/box-sym}
	BOXB=${BOX_B:+$bin/box-b}
	if [[ -n $BOX_BIN ]]; then
		say "box from BOX_BIN ($BOX_BIN)"
		install -m 755 "$BOX_BIN" "$BOX"
		if [[ -n $sym ]]; then
			go tool nm "$BOX" >/dev/null 2>&1 ||
				die "BOX_BIN $BOX_BIN has no symbol table, needed for $sym (build it without -ldflags=-s)"
			install -m 755 "$BOX_BIN" "$BOXSYM"
		fi
	else
		say "building box from a snapshot of $REPO (release flags${sym:+, and a copy with symbols})"
	fi
	if [[ -n $BOXB ]]; then
		say "box B from BOX_B ($BOX_B)"
		install -m 755 "$BOX_B" "$BOXB"
	fi
	for try in 1 2 3 4 5 6; do
		rm -rf "$bin/src"
		mkdir -p "$bin/src"
		(cd "$REPO" && git ls-files -z --cached --others --exclude-standard | xargs -0 tar -cf - --ignore-failed-read 2>/dev/null) |
			tar -xf - -C "$bin/src"
		[[ -z $BOX_BIN ]] || break
		(cd "$REPO" && git rev-parse --short HEAD && git status --porcelain | wc -l) >"$RES/box-commit.txt" 2>/dev/null || true
		if (cd "$bin/src" && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$BOX" . &&
			{ [[ -z $sym ]] || CGO_ENABLED=0 go build -trimpath -o "$BOXSYM" .; }) 2>"$RES/build.log"; then
			break
		fi
		((try < 6)) || die "box does not build: $(tail -5 "$RES/build.log")"
		say "box does not build right now (someone mid-edit?); retrying in 60 s"
		sleep 60
	done
	MKIMAGE=$bin/mkimage
	(cd "$bin/src" && go build -o "$MKIMAGE" ./bench/mkimage) 2>"$RES/mkimage-build.log" ||
		die "cannot build bench/mkimage: $(tail -5 "$RES/mkimage-build.log")"
	rm -rf "$bin/src"
	chmod 755 "$BOX" ${BOXSYM:+"$BOXSYM"} "$MKIMAGE"
}

# box_origin [B]: where BOX (with B, BOXB) came from, for the summaries: the
# commit it was built from, or the file it was copied from and its hash.
box_origin() {
	local f=$BOX_BIN
	[[ ${1:-} != B ]] || f=$BOX_B
	if [[ -z $f ]]; then
		echo "commit $(head -1 "$RES/box-commit.txt" 2>/dev/null), $(tail -1 "$RES/box-commit.txt" 2>/dev/null) uncommitted files"
		return
	fi
	echo "$f, sha256 $(sha256sum "$f" | cut -c1-16)"
}

# box_variants: the boxes a run times, one a line as the suffix of their
# tool names: "" (BOX) and, when BOX_B is set, "@B" (BOXB). Each variant has
# stores of its own, named with its suffix (box, box@B), so that neither
# binary reads what the other wrote. box_bin V: the binary of variant V.
box_variants() {
	echo ""
	[[ -z $BOXB ]] || echo "@B"
}
box_bin() { if [[ $1 == @B ]]; then echo "$BOXB"; else echo "$BOX"; fi; }

# alpine_rootfs: TARBALL unpacked into ROOTFS; and U/USER, with its
# XDG_RUNTIME_DIR U/USER/run, for every user, the user's alone.
alpine_rootfs() {
	local u
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
}

# box_pull USER V STORE NAME: box variant V pulls REF as USER into STORE,
# its output in RES/pull.NAME.USER.log.
box_pull() {
	local u=$1 log=$RES/pull.$4.$1.log
	as_user "$u" "$(box_bin "$2")" --config "$U/$u/box.toml" --root "$3" pull "$REF" >"$log" 2>&1 ||
		die "box pull ($4) as $u failed: $(tail -5 "$log")"
}

# podman_ready: PD, SUB_USER's directory, and PODMAN, podman with its store
# there (tool_configs); pulls REF with it and checks that podman runs on
# native overlay with runc.
podman_ready() {
	local drv
	PD=$U/$SUB_USER
	# podman 4.3 refuses a runroot longer than 50 characters.
	((${#PD} + 15 <= 50)) || die "BENCH_DIR is too long for podman's runroot ($PD/podman/runroot > 50 characters)"
	PODMAN=(podman --root "$PD/podman/root" --runroot "$PD/podman/runroot")
	say "podman pull as $SUB_USER"
	as_user "$SUB_USER" "${PODMAN[@]}" pull -q --tls-verify=false "$REF" >"$RES/pull.podman.log" 2>&1 ||
		die "podman pull failed: $(tail -5 "$RES/pull.podman.log")"
	as_user "$SUB_USER" "${PODMAN[@]}" info --format json >"$RES/podman-info.json" 2>"$RES/podman-info.err" ||
		die "podman info failed: $(cat "$RES/podman-info.err")"
	drv=$(python3 -c 'import json,sys; i=json.load(open(sys.argv[1])); s=i["store"]; print(s["graphDriverName"], s["graphStatus"].get("Native Overlay Diff"), "mount_program" in json.dumps(s["graphOptions"]), i["host"]["ociRuntime"]["name"])' "$RES/podman-info.json")
	[[ $drv == "overlay true False runc" ]] ||
		die "podman is not on native overlay with runc (driver, native diff, mount_program, runtime: $drv)"
}

# machine_txt JOURNAL PODMAN_MORE [LINE...]: RES/machine.txt, the KEY=VALUE
# lines of the summaries' first section: the machine; BENCH_DIR's file
# system (with JOURNAL=1, also whether it has a journal); box (and box_b);
# Go; podman, runc and conmon, then PODMAN_MORE; each LINE; newuidmap;
# Python; the load before and after the rounds.
machine_txt() {
	local journal=$1 more=$2 dev
	shift 2
	{
		echo "nproc=$(nproc)"
		echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
		echo "mem=$(free -m | awk '/^Mem:/{print $2 " MiB"}')"
		echo "kernel=$(uname -r)"
		echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
		echo "fs=$(findmnt -no FSTYPE,SOURCE,OPTIONS -T "$BENCH_DIR" | head -1)"
		if ((journal)); then
			dev=$(basename "$(findmnt -no SOURCE -T "$BENCH_DIR" | head -1)")
			if ls /proc/fs/jbd2 2>/dev/null | grep -q "^$dev-"; then echo "fs_journal=yes"; else echo "fs_journal=no (no /proc/fs/jbd2/$dev-*)"; fi
		fi
		echo "cgroups=$(stat -f -c %T /sys/fs/cgroup)"
		echo "box=$("$BOX" version) ($(box_origin))"
		[[ -z $BOXB ]] || echo "box_b=$("$BOXB" version) ($(box_origin B))"
		echo "go=$(go version | cut -d' ' -f3)"
		echo "podman=$(podman --version | cut -d' ' -f3), runc $(runc --version | head -1 | cut -d' ' -f3), conmon $(conmon --version 2>/dev/null | head -1 | cut -d' ' -f3)$more"
		(($# == 0)) || printf '%s\n' "$@"
		echo "shadow-utils newuidmap=$(dpkg-query -W -f '${Version}' uidmap 2>/dev/null)"
		echo "python=$(python3 --version | cut -d' ' -f2)"
		echo "load_before=$(cat "$RES/load-before.txt")"
		echo "load_after=$(cat "$RES/load-after.txt")"
	} >"$RES/machine.txt"
}
