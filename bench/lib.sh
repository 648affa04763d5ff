# bench/lib.sh — shell pieces the benchmark scripts share (sourced, not run).
#
# Callers set U (per-user work dirs: U/USER/{run,storage.conf,...}) before
# using as_user; BENCH_DIR, RES and PORT for serve_registry, and REF and
# MKIMAGE for serve_image; USERS,
# REPO, WARMUP and ROUNDS for timed_rounds; and define say and die.

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
		CONTAINERS_CONF="$U/$u/containers.conf"
}
# as_user USER CMD...: run CMD as USER with only user_env.
as_user() {
	local u=$1
	shift
	local env=()
	mapfile -t env < <(user_env "$u")
	setpriv --reuid="$u" --regid="$u" --init-groups env -i "${env[@]}" "$@"
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

# check_users: SUB_USER exists with subordinate id ranges and NOSUB_USER
# exists without; sets USERS to both.
check_users() {
	local u
	for u in "$SUB_USER" "$NOSUB_USER"; do
		id "$u" >/dev/null 2>&1 || die "no user $u (useradd -m $u)"
	done
	grep -q "^$SUB_USER:" /etc/subuid && grep -q "^$SUB_USER:" /etc/subgid ||
		die "$SUB_USER has no range in /etc/subuid or /etc/subgid"
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

# tool_configs USER: box's config (the registry is plain HTTP) and podman's
# (native overlay: no mount_program, which fuse-overlayfs would otherwise be
# picked up as; runc; cgroupfs) in U/USER.
tool_configs() {
	local u=$1 d=$U/$1
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
