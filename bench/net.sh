#!/usr/bin/env bash
# bench/net.sh — network benchmark: iperf3 throughput of box's user-mode
# network against podman's (rootless, slirp4netns), and the start-up cost of
# box's default network. Not a test; never run in CI.
#
# USAGE
#   sudo bash bench/net.sh [ROUNDS]            # ROUNDS defaults to 5 (>= 3)
#   Environment: BENCH_DIR (work dir, default /var/tmp/box-net-bench),
#   BENCH_USER (default boxsub; needs /etc/subuid and /etc/subgid ranges),
#   BENCH_PORT (registry port, default 45503), IPERF_PORT (first of four
#   TCP ports on 127.0.0.1, default 45610), DURATION (iperf3 -t, default 5),
#   STARTUP_RUNS (default 40; >= 30), PROFILE (default 1; 0 skips perf).
#   FLOOD (default 1; 0 skips the flood), FLOOD_ONLY (default 0; 1 runs
#   only the flood: no podman, no iperf3 runs), FLOOD_UDP (default 20500),
#   FLOOD_HOLD (600), FLOOD_LOOP (200), FLOOD_DNS (2000 a second).
#   Results: $BENCH_DIR/results/<timestamp>/ — runs.tsv (every iperf3 run),
#   startup.tsv (every start-up run), flood.tsv (the monitor sampled during
#   the flood), summary.md (printed at the end), iperf JSON of every run,
#   perf reports.
#
# WHAT IT MEASURES
#   All timed runs are the unprivileged BENCH_USER's. The image is a tiny
#   rootfs built here: Debian's /usr/bin/iperf3 with the shared libraries
#   ldd lists and the dynamic loader, plus busybox-static as /bin/sh, true,
#   sleep; pushed with bench/mkimage to a docker-registry on 127.0.0.1.
#   Throughput, one iperf3 -t DURATION -J run per case per round, the case
#   order rotating every round; the figure is end.sum_received.bits_per_second
#   of the client's JSON:
#     loopback           host iperf3 -c 127.0.0.1 against the host server
#                        (the ceiling for anything below)
#     c2h box            box run --rm --network slirp:allow_host_loopback=true
#                        IMG iperf3 -c host.box.internal -p P   (host server
#                        on 127.0.0.1:P; box's netstack in the monitor)
#     c2h podman-slirp   podman run --rm --network
#                        slirp4netns:allow_host_loopback=true IMG
#                        iperf3 -c 10.0.2.2 -p P
#     h2c box -p         box run --rm -p 127.0.0.1:HP:5201 IMG iperf3 -s -1
#                        in the background, host iperf3 -c 127.0.0.1 -p HP
#     h2c podman -p      the same with podman run --network slirp4netns -p
#                        (podman's default port handler, rootlessport)
#     h2c podman -p (slirp4netns handler)
#                        --network slirp4netns:port_handler=slirp4netns
#     c2c box network    box run --rm --network benchnet IMG iperf3 -c
#                        iperf-srv, against box run -d --rm --network
#                        benchnet --name iperf-srv IMG iperf3 -s -1 (a
#                        network of box network create: the client's
#                        netstack, the server's peer socket and init)
#     c2c podman network the same with podman network create and podman
#                        run --network benchnet (its rootless network
#                        namespace and bridge), by the server's address
#   The h2c client is retried until the server in the container answers (a
#   connection that the forwarder cannot complete inside the container is
#   closed before iperf3's control exchange, so it does not use up -s -1).
#   CPU: for every run, the busy time of the whole machine (from /proc/stat,
#   user+nice+system+irq+softirq) over the client's run, in cores (2 = both
#   cores busy), and iperf3's own cpu_utilization_percent.
#   pasta: podman 4.3 has no --network pasta (added in podman 4.4); the
#   script asks podman and reports what it says, and measures pasta only if
#   podman accepts it and the passt package is installed.
#
#   Start-up cost: STARTUP_RUNS interleaved pairs (order alternating) of
#   box run --rm IMG true (default network, slirp) and
#   box run --rm --network none IMG true, timed by bench/timer.py running
#   as the user (posix_spawn -> wait4, monotonic clock), after 5 warm-up
#   pairs. Reported: median, p10, p90 and the median of the paired
#   differences.
#
#   Profile (PROFILE=1): perf record -a -g (system-wide, both cores) during
#   one c2h and one h2c run of a box build with its symbol table, and during
#   one c2h run of podman+slirp4netns; perf report by command, by DSO and by
#   symbol go to the results directory.
#
#   Flood: one box run --rm --network slirp:allow_host_loopback=true -p 80
#   -p 8080 IMG flood ... as the user, running the tool of
#   testscripts/run_network_flood.txtar (built here, static) against
#   servers on the host's loopback (a Python line server, UDP sink and DNS
#   server; the first upstream in box's [network] dns never answers, so
#   every relayed query stays in flight 2 s). From inside, in this order:
#   FLOOD_LOOP connections through the container's own published port 8080
#   back to a server of its own that reads nothing (both ends write until
#   they stall), FLOOD_HOLD connections held open to the line server,
#   FLOOD_UDP UDP flows of one datagram each (distinct source ports), and
#   DNS queries at FLOOD_DNS a second until the host has measured. The
#   monitor (the box process) is sampled every 0.1 s: resident memory
#   (VmRSS) and open descriptors, by phase: idle (before), flood, hold (all
#   of it held, 3 s), after (released, 5 s); and its peak (VmHWM). Checked
#   meanwhile: the host fetches the published port 80 while the flood
#   holds, and the container checks that a connection made before the flood
#   still answers, that DNS resolves, and after the release that a new
#   connection works.
#
# WHAT IT NEEDS
#   Root (set-up and perf only), Go >= 1.26 at /usr/local/go/bin, Debian 12
#   with its apt mirror for missing packages (iperf3, podman, runc,
#   slirp4netns, uidmap, docker-registry, busybox-static, python3, curl,
#   linux-perf), the user above, unprivileged user namespaces.
#   podman runs with runc and cgroupfs (see bench/start.sh for why).
#
# CLEAN-UP
#   On exit (also on error or ^C) the script kills the iperf3 servers and
#   containers it started (by pid), stops its registry and the rootless pause
#   process its podman runs started, and deletes the stores, rootfs, blob
#   cache and registry data under $BENCH_DIR. Only $BENCH_DIR/results stays.
set -euo pipefail

ROUNDS=${1:-5}
BENCH_DIR=${BENCH_DIR:-/var/tmp/box-net-bench}
USR=${BENCH_USER:-boxsub}
PORT=${BENCH_PORT:-45503}
IPORT=${IPERF_PORT:-45610}
DURATION=${DURATION:-5}
STARTUP_RUNS=${STARTUP_RUNS:-40}
PROFILE=${PROFILE:-1}
FLOOD=${FLOOD:-1}
FLOOD_ONLY=${FLOOD_ONLY:-0}
FLOOD_UDP=${FLOOD_UDP:-20500}
FLOOD_HOLD=${FLOOD_HOLD:-600}
FLOOD_LOOP=${FLOOD_LOOP:-200}
FLOOD_DNS=${FLOOD_DNS:-2000}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/bench/lib.sh"
export PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C.UTF-8
REF=127.0.0.1:$PORT/bench/iperf3:latest
HOST_PORT=$IPORT          # host iperf3 server (c2h and loopback)
BOX_HP=$((IPORT + 1))     # box -p
PODMAN_HP=$((IPORT + 2))  # podman -p
PODMAN_HP2=$((IPORT + 3)) # podman -p, slirp4netns port handler

[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive number, not '$ROUNDS'"
((ROUNDS >= 3)) || die "ROUNDS must be at least 3"
[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "DURATION must be a positive number"
[[ $STARTUP_RUNS =~ ^[0-9]+$ ]] && ((STARTUP_RUNS >= 30)) || die "STARTUP_RUNS must be >= 30"
for v in FLOOD FLOOD_ONLY FLOOD_UDP FLOOD_HOLD FLOOD_LOOP FLOOD_DNS; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number, not '${!v}'"
done
((FLOOD_ONLY)) && FLOOD=1
[[ $(id -u) -eq 0 ]] || die "run as root (sudo bash bench/net.sh); the timed runs run as $USR"
check_sub_user "$USR"

# --- packages ---------------------------------------------------------------
pkgs=(iperf3:iperf3 docker-registry:docker-registry python3:python3 curl:curl setpriv:util-linux)
((FLOOD_ONLY)) || pkgs+=(podman:podman runc:runc slirp4netns:slirp4netns newuidmap:uidmap)
[[ -x /bin/busybox ]] && file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' || pkgs+=(:busybox-static)
((PROFILE == 0 || FLOOD_ONLY)) || pkgs+=(perf:linux-perf)
install_missing "${pkgs[@]}"

# --- work dir and clean-up --------------------------------------------------
results_dir
chmod 755 "$BENCH_DIR/results" "$RES"
W=$BENCH_DIR/w # the user's stores and configs
# XDG_RUNTIME_DIR: short, because slirp4netns's API socket lives under it
# (sun_path is 108 bytes).
RUN=/tmp/box-net-bench.$$
REG_PID=
PIDS=() # iperf3 servers and background containers, killed on exit
cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	local p i
	for p in "${PIDS[@]}"; do
		kill -0 "$p" 2>/dev/null || continue
		kill -TERM "$p" 2>/dev/null
		for i in $(seq 100); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	stop_registry_and_pause "$RUN/libpod/tmp/pause.pid"
	rm -rf "$W" "$RUN" "$BENCH_DIR/registry" "$BENCH_DIR/rootfs" "$BENCH_DIR/bin" "$BENCH_DIR/blobs"
	((rc == 0)) || printf 'net.sh: FAILED (exit %s); partial results in %s\n' "$rc" "$RES" >&2
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$W" "$BENCH_DIR/registry" "$BENCH_DIR/rootfs" "$BENCH_DIR/bin" "$BENCH_DIR/blobs"
mkdir -p "$W" "$RUN" "$BENCH_DIR/bin"
chown "$USR:$USR" "$W" "$RUN"
chmod 700 "$W" "$RUN"
chmod 755 "$BENCH_DIR/bin"
cd "$BENCH_DIR"

user_env() {
	printf '%s\n' HOME="$(getent passwd "$USR" | cut -d: -f6)" USER="$USR" LOGNAME="$USR" PATH="$PATH" \
		LANG=C.UTF-8 XDG_RUNTIME_DIR="$RUN" CONTAINERS_STORAGE_CONF="$W/storage.conf" \
		CONTAINERS_CONF="$W/containers.conf"
}
# as_user USER CMD...: run CMD as USER with only user_env (exec chain, so
# $! of a background as_user is CMD's pid).
as_user() {
	local u=$1 env=()
	shift
	mapfile -t env < <(user_env)
	setpriv --reuid="$u" --regid="$u" --init-groups env -i "${env[@]}" "$@"
}
# as_user_bg USER CMD... &: the same for a background job; the exec makes $!
# the pid of CMD itself (setpriv and env exec too), so that it can be killed.
as_user_bg() {
	local u=$1 env=()
	shift
	mapfile -t env < <(user_env)
	exec setpriv --reuid="$u" --regid="$u" --init-groups env -i "${env[@]}" "$@"
}
# json_ok FILE: FILE is a complete iperf3 -J result (iperf3 3.12 exits 0
# with -J even when it cannot connect; the error is only in the JSON).
json_ok() {
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if "error" not in j and "bits_per_second" in j["end"]["sum_received"] else 1)' "$1" 2>/dev/null
}

# --- binaries ---------------------------------------------------------------
# BOX, built from the work tree (not BOX_BIN: this script does not compare
# binaries), BOXSYM, the same code with its symbols for perf, and MKIMAGE
# (bench/lib.sh).
BOX_BIN= BOX_B=
box_binaries "$( ((PROFILE == 0)) || echo perf)"
# The flood tool: the one testscripts/run_network_flood.txtar runs, built
# static for the busybox image.
FLOODBIN=$BENCH_DIR/bin/flood
rm -rf "$BENCH_DIR/bin/flood-tool"
mkdir -p "$BENCH_DIR/bin/flood-tool"
awk -v d="$BENCH_DIR/bin/flood-tool" '/^-- flood\/[^ ]+ --$/ {f = d "/" substr($2, 7); next} /^-- / {f = ""; next} f {print > f}' \
	"$REPO/testscripts/run_network_flood.txtar"
(cd "$BENCH_DIR/bin/flood-tool" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -o "$FLOODBIN" .) 2>"$RES/flood-build.log" ||
	die "cannot build the flood tool: $(tail -5 "$RES/flood-build.log")"
rm -rf "$BENCH_DIR/bin/flood-tool"
chmod 755 "$FLOODBIN"

# --- rootfs: iperf3, its libraries, the loader, busybox ------------------------
say "building the iperf3 rootfs"
R=$BENCH_DIR/rootfs
mkdir -p "$R"/{bin,usr/bin,lib64,etc,tmp,root}
chmod 1777 "$R/tmp"
cp /usr/bin/iperf3 "$R/usr/bin/iperf3"
libs=$(ldd /usr/bin/iperf3 | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')
[[ -n $libs ]] || die "ldd /usr/bin/iperf3 lists no libraries"
for l in $libs; do
	mkdir -p "$R$(dirname "$l")"
	cp -L "$l" "$R$l"
done
[[ -e $R/lib64/ld-linux-x86-64.so.2 ]] || die "no dynamic loader in the rootfs (ldd output changed?)"
cp /bin/busybox "$R/bin/busybox"
for a in sh true sleep cat ls ip; do ln -s busybox "$R/bin/$a"; done
cp "$FLOODBIN" "$R/usr/bin/flood"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$R/etc/group"
chroot "$R" /usr/bin/iperf3 --version >"$RES/iperf3-version.txt" 2>&1 ||
	die "iperf3 does not run in the rootfs: $(cat "$RES/iperf3-version.txt")"

# --- registry and image -----------------------------------------------------
for p in "$HOST_PORT" "$BOX_HP" "$PODMAN_HP" "$PODMAN_HP2"; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		die "port $p on 127.0.0.1 is in use (set IPERF_PORT)"
	fi
done
serve_image "$R" # and BENCH_PORT's

# --- tool configuration and pulls ---------------------------------------------
tool_configs "$USR" "$W"
BOXC=("$BOX" --config "$W/box.toml" --root "$W/box")
BOXSYMC=("$BOXSYM" --config "$W/box.toml" --root "$W/box")
PODMAN=(podman --root "$W/podman/root" --runroot "$W/podman/runroot")
say "box pull, podman pull as $USR"
as_user "$USR" "${BOXC[@]}" pull "$REF" >"$RES/pull.box.log" 2>&1 ||
	die "box pull failed: $(tail -5 "$RES/pull.box.log")"
if ((!FLOOD_ONLY)); then
	as_user "$USR" "${PODMAN[@]}" pull -q --tls-verify=false "$REF" >"$RES/pull.podman.log" 2>&1 ||
		die "podman pull failed: $(tail -5 "$RES/pull.podman.log")"
fi

# --- versions and sanity ------------------------------------------------------
{
	echo "date: $(date -u +%FT%TZ)"
	echo "kernel: $(uname -r)"
	echo "os: $(. /etc/os-release && echo "$PRETTY_NAME")"
	echo "cpu: $(nproc) x $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
	echo "box: $(head -1 "$RES/box-commit.txt") (+$(tail -1 "$RES/box-commit.txt") changed files in the work tree), $(go version | awk '{print $3}')"
	if ((!FLOOD_ONLY)); then
		echo "podman: $(podman --version | awk '{print $3}')"
		echo "slirp4netns: $(slirp4netns --version | head -1 | awk '{print $3}')"
		echo "runc: $(runc --version | head -1 | awk '{print $3}')"
		echo "iperf3: $(iperf3 --version | head -1 | awk '{print $2}') (host and image)"
		echo "passt: $(dpkg-query -W -f='${Version}' passt 2>/dev/null || echo 'not installed') (bookworm candidate: $(apt-cache policy passt 2>/dev/null | awk '/Candidate/ {print $2}'))"
	fi
} >"$RES/versions.txt"
out=$(as_user "$USR" "${BOXC[@]}" run --rm "$REF" iperf3 --version 2>"$RES/sanity.err") ||
	die "box run iperf3 --version failed: $(tail -5 "$RES/sanity.err")"
[[ $out == iperf\ 3* ]] || die "box run iperf3 --version printed '$out'"

# --- flood ----------------------------------------------------------------------
# flood_run: the flood scenario (see the header); writes flood.tsv, the
# container's output and flood.md (its part of the summary).
flood_run() {
	local sh=$W/flood-shared hp=$W/flood-host.ports phase=$W/flood.phase i box web ok sampler
	local line sink silent dnsp
	say "flood: loop $FLOOD_LOOP, hold $FLOOD_HOLD, udp $FLOOD_UDP, dns $FLOOD_DNS/s from inside one container"
	mkdir -p "$sh"
	chown "$USR:$USR" "$sh"
	# Host servers, the user's: a line server ("got LINE"), a UDP sink, a
	# DNS server that never answers and one that answers example.test.
	cat >"$BENCH_DIR/bin/flood-host.py" <<'PYEOF'
import os, socket, socketserver, struct, sys, threading
class Line(socketserver.StreamRequestHandler):
    def handle(self):
        for l in self.rfile:
            self.wfile.write(b"got " + l)
class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    request_queue_size = 1024
line = Server(("127.0.0.1", 0), Line)
def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s
sink, silent, dns = udp(), udp(), udp()
def drain(s):
    while True:
        s.recv(65536)
def answer():
    while True:
        q, a = dns.recvfrom(4096)
        i, labels = 12, []
        while q[i]:
            labels.append(q[i + 1:i + 1 + q[i]])
            i += 1 + q[i]
        qtype, end = struct.unpack(">H", q[i + 1:i + 3])[0], i + 5
        name = b".".join(labels).lower()
        flags, an = (0x8180 if name == b"example.test" else 0x8183), b""
        if name == b"example.test" and qtype == 1:
            an = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, 7])
        dns.sendto(q[:2] + struct.pack(">HHHHH", flags, 1, 1 if an else 0, 0, 0) + q[12:end] + an, a)
for t in (line.serve_forever, lambda: drain(sink), lambda: drain(silent), answer):
    threading.Thread(target=t, daemon=True).start()
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d %d %d %d\n" % (line.server_address[1], sink.getsockname()[1], silent.getsockname()[1], dns.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
threading.Event().wait()
PYEOF
	chmod 644 "$BENCH_DIR/bin/flood-host.py"
	rm -f "$hp"
	as_user_bg "$USR" python3 "$BENCH_DIR/bin/flood-host.py" "$hp" >"$RES/flood-host.log" 2>&1 &
	PIDS+=($!)
	for i in $(seq 100); do
		[[ -s $hp ]] && break
		((i < 100)) || die "flood host servers did not start: $(tail -5 "$RES/flood-host.log")"
		sleep 0.1
	done
	read -r line sink silent dnsp <"$hp"
	cat >"$W/box-flood.toml" <<TOML
[registries."127.0.0.1:$PORT"]
insecure = true
[network]
dns = ["127.0.0.1:$silent", "127.0.0.1:$dnsp"]
TOML
	chown "$USR:$USR" "$W/box-flood.toml"
	echo idle >"$phase"
	as_user_bg "$USR" "$BOX" --config "$W/box-flood.toml" --root "$W/box" run --rm --name flood \
		--network slirp:allow_host_loopback=true -p 127.0.0.1::80 -p 127.0.0.1::8080 -v "$sh:/shared" "$REF" \
		flood -echo "$line" -sink "$sink" -loop "$FLOOD_LOOP" -hold "$FLOOD_HOLD" -udp "$FLOOD_UDP" -dns "$FLOOD_DNS" \
		>"$RES/flood.out" 2>"$RES/flood.err" &
	box=$!
	PIDS+=("$box")
	# The monitor is that box process: sample it every 0.1 s.
	printf 't\tphase\trss_kib\tfds\n' >"$RES/flood.tsv"
	python3 - "$box" "$phase" >>"$RES/flood.tsv" <<'PYEOF' &
import os, sys, time
pid, phase = sys.argv[1], sys.argv[2]
t0 = time.monotonic()
while True:
    try:
        rss = next(l.split()[1] for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:"))
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, StopIteration):
        break
    print(f"{time.monotonic() - t0:.2f}\t{open(phase).read().strip()}\t{rss}\t{fds}", flush=True)
    time.sleep(0.1)
PYEOF
	sampler=$!
	waitfor() { # waitfor FILE SECONDS: the container's signal in the shared directory
		local j
		for j in $(seq $(($2 * 10))); do
			[[ -e $sh/$1 ]] && return 0
			kill -0 "$box" 2>/dev/null || die "the flood container ended early: $(tail -5 "$RES/flood.out" "$RES/flood.err")"
			sleep 0.1
		done
		die "the flood container did not say $1 within $2 s: $(tail -5 "$RES/flood.out" "$RES/flood.err")"
	}
	waitfor listening 60
	sleep 1
	as_user "$USR" "$BOX" --config "$W/box-flood.toml" --root "$W/box" port flood >"$sh/ports.tmp" ||
		die "box port flood failed"
	mv "$sh/ports.tmp" "$sh/ports"
	web=$(awk '$1 == "80/tcp" {sub(/.*:/, "", $3); print $3}' "$sh/ports")
	echo flood >"$phase"
	waitfor flooded 300
	echo hold >"$phase"
	sleep 3
	ok=no
	curl -s -m 10 "http://127.0.0.1:$web/" | grep -q 'hello from the flooded container' && ok=yes
	awk '/^VmHWM:/ {print $2}' "/proc/$box/status" >"$RES/flood.hwm"
	: >"$sh/measured"
	waitfor released 120
	echo after >"$phase"
	sleep 5
	: >"$sh/done"
	wait "$box" || die "the flood container failed: $(tail -5 "$RES/flood.out" "$RES/flood.err")"
	wait "$sampler" || true
	python3 - "$RES" "$ok" "$(cat "$RES/flood.hwm")" >"$RES/flood.md" <<'PYEOF'
import csv, sys
res, web, hwm = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows = list(csv.DictReader(open(f"{res}/flood.tsv"), delimiter="\t"))
out = open(f"{res}/flood.out").read()
print("### Flood from inside one container: the monitor, sampled every 0.1 s")
print()
print("| phase | samples | RSS MiB max | RSS MiB last | descriptors max | descriptors last |")
print("|---|---:|---:|---:|---:|---:|")
peak = {}
for ph in ("idle", "flood", "hold", "after"):
    r = [x for x in rows if x["phase"] == ph]
    if not r:
        continue
    rss = [int(x["rss_kib"]) / 1024 for x in r]
    fds = [int(x["fds"]) for x in r]
    peak[ph] = (max(rss), max(fds))
    print(f"| {ph} | {len(r)} | {max(rss):.1f} | {rss[-1]:.1f} | {max(fds)} | {fds[-1]} |")
print()
print(f"Peak resident (VmHWM) by the end of the hold: {hwm / 1024:.1f} MiB.  ")
print("The container said: " + "; ".join(l for l in out.splitlines() if l) + ".  ")
print(f"The published port answered the host during the hold: {web}.")
print()
during = [peak[p] for p in ("flood", "hold") if p in peak]
rss = max([hwm / 1024] + [p[0] for p in during])
fds = max([0] + [p[1] for p in during])
ok = all(s in out for s in ("keeper: got keep", "dns: example.test 192.0.2.7", "after: got after"))
v = lambda b: "MET" if b else "MISSED"
print(f"- monitor during the flood <= 64 MiB resident: {rss:.1f} MiB: {v(rss <= 64)}")
print(f"- monitor during the flood <= 4,096 descriptors: {fds}: {v(fds <= 4096)}")
print(f"- established connection, DNS, published port and new connections kept working: {v(ok and web == 'yes')}")
PYEOF
	cat "$RES/flood.md" >&2
}
if ((FLOOD_ONLY)); then
	flood_run
	cp "$RES/flood.md" "$RES/summary.md"
	say "results in $RES"
	exit 0
fi
out=$(as_user "$USR" "${PODMAN[@]}" run --rm "$REF" iperf3 --version 2>"$RES/sanity.err") ||
	die "podman run iperf3 --version failed: $(tail -5 "$RES/sanity.err")"
[[ $out == iperf\ 3* ]] || die "podman run iperf3 --version printed '$out'"
# pasta: does this podman know it?
PASTA=0
if as_user "$USR" "${PODMAN[@]}" run --rm --network pasta "$REF" true >"$RES/pasta.txt" 2>&1; then
	command -v pasta >/dev/null && PASTA=1
fi
PASTA_NOTE="podman $(podman --version | awk '{print $3}'): $(tail -1 "$RES/pasta.txt")"
((PASTA)) && PASTA_NOTE="podman runs --network pasta"
echo "pasta: $PASTA_NOTE" >>"$RES/versions.txt"
say "pasta: $PASTA_NOTE"

# --- iperf3 runs ----------------------------------------------------------------
# The host server for loopback and c2h, the user's, for the whole run.
as_user_bg "$USR" iperf3 -s -B 127.0.0.1 -p "$HOST_PORT" >"$RES/host-server.log" 2>&1 &
PIDS+=($!)
HOST_SRV=$!
for i in $(seq 50); do
	(exec 3<>"/dev/tcp/127.0.0.1/$HOST_PORT") 2>/dev/null && break
	kill -0 "$HOST_SRV" 2>/dev/null || die "host iperf3 server died: $(cat "$RES/host-server.log")"
	((i < 50)) || die "host iperf3 server does not listen on 127.0.0.1:$HOST_PORT"
	sleep 0.1
done
# The probe above was a control connection without a cookie; let the server
# settle.
sleep 0.5

# busy jiffies of the whole machine (user nice system irq softirq steal)
busy() { awk '/^cpu / {print $2+$3+$4+$7+$8+$9}' /proc/stat; }
HZ=$(getconf CLK_TCK)
ROWS=$RES/runs.tsv
printf 'round\tcase\tgbps\tmachine_cores_busy\tiperf_client_cpu_pct\tiperf_server_cpu_pct\tretransmits\n' >"$ROWS"

# record ROUND CASE JSON T0 T1 B0 B1
record() {
	python3 - "$@" >>"$ROWS" <<'EOF'
import json, sys
rnd, case, path, t0, t1, b0, b1, hz = sys.argv[1:]
j = json.load(open(path))
if "error" in j:
    sys.exit(f"{case}: iperf3 error: {j['error']}")
e = j["end"]
bps = e["sum_received"]["bits_per_second"]
cpu = e.get("cpu_utilization_percent", {})
cores = (int(b1) - int(b0)) / int(hz) / (float(t1) - float(t0))
print(f"{rnd}\t{case}\t{bps/1e9:.3f}\t{cores:.2f}\t{cpu.get('host_total', 0):.0f}\t{cpu.get('remote_total', 0):.0f}\t{e['sum_sent'].get('retransmits', '')}")
EOF
}
now() { date +%s.%N; }

# client_run ROUND CASE CMD...: run an iperf3 client command (its stdout is
# the JSON) once, timed, and record it.
client_run() {
	local rnd=$1 c=$2 t0 t1 b0 b1
	shift 2
	local js=$RES/iperf.$c.r$rnd.json
	t0=$(now) b0=$(busy)
	"$@" >"$js" 2>"$RES/err.$c.r$rnd" && json_ok "$js" || die "$c (round $rnd) failed: $(tail -5 "$RES/err.$c.r$rnd"; tail -c 400 "$js")"
	t1=$(now) b1=$(busy)
	record "$rnd" "$c" "$js" "$t0" "$t1" "$b0" "$b1" "$HZ" || die "$c (round $rnd): bad iperf3 output in $js"
}

# h2c_run ROUND CASE PORT SERVER-CMD...: start the server container in the
# background, retry the host client until it gets through, record, wait for
# the container to exit (iperf3 -s -1).
h2c_run() {
	local rnd=$1 c=$2 hp=$3 t0 t1 b0 b1 try srv
	shift 3
	local js=$RES/iperf.$c.r$rnd.json
	as_user_bg "$USR" "$@" >"$RES/server.$c.r$rnd.log" 2>&1 &
	srv=$!
	PIDS+=("$srv")
	for try in $(seq 150); do
		kill -0 "$srv" 2>/dev/null || die "$c server container exited early (round $rnd): $(tail -5 "$RES/server.$c.r$rnd.log")"
		t0=$(now) b0=$(busy)
		if as_user "$USR" iperf3 -c 127.0.0.1 -p "$hp" -t "$DURATION" -J >"$js" 2>"$RES/err.$c.r$rnd" && json_ok "$js"; then
			t1=$(now) b1=$(busy)
			break
		fi
		((try < 150)) || die "$c (round $rnd): the client never got through: $(tail -c 400 "$js")"
		sleep 0.1
	done
	echo "$try" >"$RES/tries.$c.r$rnd"
	local i
	for i in $(seq 100); do
		kill -0 "$srv" 2>/dev/null || break
		((i < 100)) || die "$c server container did not exit after the test (round $rnd)"
		sleep 0.1
	done
	wait "$srv" || die "$c server container failed (round $rnd): $(tail -5 "$RES/server.$c.r$rnd.log")"
	record "$rnd" "$c" "$js" "$t0" "$t1" "$b0" "$b1" "$HZ" || die "$c (round $rnd): bad iperf3 output in $js"
}

# c2c_run ROUND CASE NAME CLIENT-PREFIX -- SERVER-CMD...: start the server
# container (detached, named NAME, iperf3 -s -1) on the network, retry the
# client container (CLIENT-PREFIX iperf3 -c TARGET ...) until it gets
# through, record it; TARGET is NAME, or with C2C_BY_IP=1 (podman without a
# DNS plugin) the server's address from inspect.
c2c_run() {
	local rnd=$1 c=$2 name=$3 t0 t1 b0 b1 try target
	shift 3
	local client=()
	while [[ $1 != -- ]]; do client+=("$1"); shift; done
	shift
	local js=$RES/iperf.$c.r$rnd.json
	as_user "$USR" "$@" >"$RES/server.$c.r$rnd.log" 2>&1 || die "$c server container failed to start (round $rnd): $(tail -5 "$RES/server.$c.r$rnd.log")"
	target=$name
	if [[ $c == *podman* ]]; then
		target=$(as_user "$USR" "${PODMAN[@]}" inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$name") ||
			die "$c: no address for $name"
	fi
	for try in $(seq 150); do
		t0=$(now) b0=$(busy)
		if as_user "$USR" "${client[@]}" iperf3 -c "$target" -t "$DURATION" -J >"$js" 2>"$RES/err.$c.r$rnd" && json_ok "$js"; then
			t1=$(now) b1=$(busy)
			break
		fi
		((try < 150)) || die "$c (round $rnd): the client never got through: $(tail -c 400 "$js")"
		sleep 0.1
	done
	echo "$try" >"$RES/tries.$c.r$rnd"
	record "$rnd" "$c" "$js" "$t0" "$t1" "$b0" "$b1" "$HZ" || die "$c (round $rnd): bad iperf3 output in $js"
	local i
	for i in $(seq 100); do # -s -1 ends after one test; --rm removes it
		if [[ $c == *podman* ]]; then
			as_user "$USR" "${PODMAN[@]}" container exists "$name" 2>/dev/null || break
		else
			as_user "$USR" "${BOXC[@]}" inspect "$name" >/dev/null 2>&1 || break
		fi
		((i < 100)) || die "$c server container $name did not end after the test (round $rnd)"
		sleep 0.1
	done
}

run_case() {
	local rnd=$1 c=$2
	case $c in
	c2c-box-network)
		c2c_run "$rnd" "$c" iperf-srv "${BOXC[@]}" run --rm --network benchnet "$REF" -- \
			"${BOXC[@]}" run -d --rm --network benchnet --name iperf-srv "$REF" iperf3 -s -1 ;;
	c2c-podman-network)
		c2c_run "$rnd" "$c" iperf-srv-p "${PODMAN[@]}" run --rm --network benchnet "$REF" -- \
			"${PODMAN[@]}" run -d --rm --network benchnet --name iperf-srv-p "$REF" iperf3 -s -1 ;;
	loopback)
		client_run "$rnd" "$c" as_user "$USR" iperf3 -c 127.0.0.1 -p "$HOST_PORT" -t "$DURATION" -J ;;
	c2h-box)
		client_run "$rnd" "$c" as_user "$USR" "${BOXC[@]}" run --rm --network slirp:allow_host_loopback=true \
			"$REF" iperf3 -c host.box.internal -p "$HOST_PORT" -t "$DURATION" -J ;;
	c2h-podman-slirp4netns)
		client_run "$rnd" "$c" as_user "$USR" "${PODMAN[@]}" run --rm --network slirp4netns:allow_host_loopback=true \
			"$REF" iperf3 -c 10.0.2.2 -p "$HOST_PORT" -t "$DURATION" -J ;;
	c2h-podman-pasta)
		# pasta maps the host's address to the default gateway
		client_run "$rnd" "$c" as_user "$USR" "${PODMAN[@]}" run --rm --network pasta \
			"$REF" sh -c 'exec iperf3 -c "$(ip route | awk "/default/ {print \$3}")" -p '"$HOST_PORT"' -t '"$DURATION"' -J' ;;
	h2c-box)
		h2c_run "$rnd" "$c" "$BOX_HP" "${BOXC[@]}" run --rm -p "127.0.0.1:$BOX_HP:5201" "$REF" iperf3 -s -1 ;;
	h2c-podman-rootlessport)
		h2c_run "$rnd" "$c" "$PODMAN_HP" "${PODMAN[@]}" run --rm --network slirp4netns -p "127.0.0.1:$PODMAN_HP:5201" \
			"$REF" iperf3 -s -1 ;;
	h2c-podman-slirp4netns-handler)
		h2c_run "$rnd" "$c" "$PODMAN_HP2" "${PODMAN[@]}" run --rm --network slirp4netns:port_handler=slirp4netns \
			-p "127.0.0.1:$PODMAN_HP2:5201" "$REF" iperf3 -s -1 ;;
	h2c-podman-pasta)
		h2c_run "$rnd" "$c" "$PODMAN_HP" "${PODMAN[@]}" run --rm --network pasta -p "127.0.0.1:$PODMAN_HP:5201" \
			"$REF" iperf3 -s -1 ;;
	*) die "unknown case $c" ;;
	esac
}

# Container to container on a network of their own: box network create
# and podman network create (rootless: the containers share a rootless
# network namespace with a bridge; podman 4.3 here, by address).
as_user "$USR" "${BOXC[@]}" network rm -f benchnet >/dev/null 2>&1 || true
as_user "$USR" "${BOXC[@]}" network create benchnet >"$RES/network.box.log" 2>&1 ||
	die "box network create failed: $(tail -5 "$RES/network.box.log")"
as_user "$USR" "${PODMAN[@]}" network rm -f benchnet >/dev/null 2>&1 || true
as_user "$USR" "${PODMAN[@]}" network create benchnet >"$RES/network.podman.log" 2>&1 ||
	die "podman network create failed: $(tail -5 "$RES/network.podman.log")"
CASES=(loopback c2h-box c2h-podman-slirp4netns h2c-box h2c-podman-rootlessport h2c-podman-slirp4netns-handler c2c-box-network c2c-podman-network)
((PASTA)) && CASES+=(c2h-podman-pasta h2c-podman-pasta)
uptime >"$RES/load-before.txt"
say "warm-up: one run of each case (not counted)"
for c in "${CASES[@]}"; do run_case 0 "$c"; done
say "$ROUNDS rounds of ${#CASES[@]} cases, iperf3 -t $DURATION"
for r in $(seq "$ROUNDS"); do
	n=${#CASES[@]}
	k=$(((r - 1) % n))
	for i in $(seq 0 $((n - 1))); do
		run_case "$r" "${CASES[$(((i + k) % n))]}"
	done
	echo "$r $(cat /proc/loadavg)" >>"$RES/load.txt"
	say "  round $r/$ROUNDS done"
done

# --- start-up cost of the default network -------------------------------------
say "start-up: $STARTUP_RUNS interleaved pairs of box run --rm IMG true, slirp vs none"
# bench/timer.py: 5 warm-up pairs (rounds -5 to -1, left out) and then the
# pairs 0 to STARTUP_RUNS-1, the order of the two alternating.
TIMER=$BENCH_DIR/bin/timer.py
install -m 644 "$REPO/bench/timer.py" "$TIMER"
json_line() { python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' "$@"; }
{
	json_line slirp "${BOXC[@]}" run --rm "$REF" true
	json_line none "${BOXC[@]}" run --rm --network none "$REF" true
} >"$W/startup.jsonl"
mkdir -p "$W/startup.err"
: >"$W/startup.runs"
chown "$USR:$USR" "$W/startup.jsonl" "$W/startup.err" "$W/startup.runs"
sync
sleep 2
(cd "$W" && as_user "$USR" python3 "$TIMER" "$W/startup.jsonl" "$W/startup.runs" -5 "$USR" -5 "$W/startup.err" $((STARTUP_RUNS + 5))) ||
	die "start-up runs failed"
{
	printf 'pair\tnetwork\twall_ms\tcpu_ms\n'
	awk -F'\t' -v OFS='\t' '$1 >= 0 {print $1, $3, $4, $5}' "$W/startup.runs"
} >"$RES/startup.tsv"
uptime >"$RES/load-after.txt"

((FLOOD)) && flood_run

# --- perf profile -----------------------------------------------------------
if ((PROFILE)); then
	say "profile: perf record -a -g during one c2h and one h2c run of box (symbol build), one c2h of podman"
	prof() { # prof NAME CMD...: perf record -a while CMD runs
		local name=$1
		shift
		local perf_pid i
		perf record -a -g -F 999 -o "$RES/perf.$name.data" >"$RES/perf.$name.out" 2>"$RES/perf.$name.err" &
		perf_pid=$!
		PIDS+=("$perf_pid")
		for i in $(seq 50); do
			[[ -s $RES/perf.$name.data ]] && break
			kill -0 "$perf_pid" 2>/dev/null || die "perf record ($name) failed: $(tail -5 "$RES/perf.$name.err")"
			sleep 0.1
		done
		sleep 0.5
		"$@" >"$RES/perf.$name.json" 2>"$RES/perf.$name.cmd.err" && json_ok "$RES/perf.$name.json" ||
			die "the profiled run ($name) failed: $(tail -5 "$RES/perf.$name.cmd.err")"
		kill -INT "$perf_pid"
		wait "$perf_pid" || true # perf exits non-zero after SIGINT
		grep -q 'Captured and wrote' "$RES/perf.$name.err" || die "perf record ($name) failed: $(tail -5 "$RES/perf.$name.err")"
		# (head closes the pipe early: no pipefail here)
		(
			set +o pipefail
			perf report -i "$RES/perf.$name.data" --no-children --sort comm --stdio -g none 2>/dev/null | grep -v '^$' | head -40 >"$RES/perf.$name.comm.txt"
			perf report -i "$RES/perf.$name.data" --no-children --sort comm,dso --stdio -g none 2>/dev/null | grep -v '^$' | head -50 >"$RES/perf.$name.dso.txt"
			perf report -i "$RES/perf.$name.data" --no-children --sort comm,sym --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -80 >"$RES/perf.$name.sym.txt"
			perf report -i "$RES/perf.$name.data" --children --sort sym --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -80 >"$RES/perf.$name.children.txt"
		)
		[[ -s $RES/perf.$name.sym.txt ]] || die "perf report ($name) printed nothing"
	}
	prof c2h-box as_user "$USR" "${BOXSYMC[@]}" run --rm --network slirp:allow_host_loopback=true \
		"$REF" iperf3 -c host.box.internal -p "$HOST_PORT" -t "$DURATION" -J
	prof c2h-podman-slirp4netns as_user "$USR" "${PODMAN[@]}" run --rm --network slirp4netns:allow_host_loopback=true \
		"$REF" iperf3 -c 10.0.2.2 -p "$HOST_PORT" -t "$DURATION" -J
	# h2c: a persistent server (a probe would use up -s -1); probe with
	# short clients until one gets through, profile a full one, then stop
	# the container with SIGTERM (box forwards it to iperf3).
	as_user_bg "$USR" "${BOXSYMC[@]}" run --rm -p "127.0.0.1:$BOX_HP:5201" "$REF" iperf3 -s >"$RES/server.h2c-prof.log" 2>&1 &
	srv=$!
	PIDS+=("$srv")
	for i in $(seq 150); do
		kill -0 "$srv" 2>/dev/null || die "profile h2c server exited: $(tail -5 "$RES/server.h2c-prof.log")"
		as_user "$USR" iperf3 -c 127.0.0.1 -p "$BOX_HP" -t 1 -J >"$RES/probe.json" 2>&1 && json_ok "$RES/probe.json" && break
		((i < 150)) || die "box -p never got through for the profile"
		sleep 0.1
	done
	prof h2c-box as_user "$USR" iperf3 -c 127.0.0.1 -p "$BOX_HP" -t "$DURATION" -J
	kill -TERM "$srv"
	wait "$srv" || true
fi

# --- summary -------------------------------------------------------------------
python3 - "$RES" "$ROUNDS" "$DURATION" "$STARTUP_RUNS" >"$RES/summary.md" <<'EOF'
import csv, statistics as st, sys
res, rounds, dur, sruns = sys.argv[1:]
rows = [r for r in csv.DictReader(open(f"{res}/runs.tsv"), delimiter="\t") if r["round"] != "0"]
cases = []
for r in rows:
    if r["case"] not in cases:
        cases.append(r["case"])
order = ["loopback", "c2h-box", "c2h-podman-slirp4netns", "c2h-podman-pasta",
         "h2c-box", "h2c-podman-rootlessport", "h2c-podman-slirp4netns-handler", "h2c-podman-pasta",
         "c2c-box-network", "c2c-podman-network"]
cases = [c for c in order if c in cases]
med = {}
def m(c, k):
    return st.median(float(r[k]) for r in rows if r["case"] == c)
print(open(f"{res}/versions.txt").read().rstrip().replace("\n", "  \n"))
print()
print(f"load average: before `{open(f'{res}/load-before.txt').read().strip()}`, after `{open(f'{res}/load-after.txt').read().strip()}`")
print()
print(f"### Throughput (iperf3 -t {dur}, {rounds} interleaved rounds, median of sum_received)")
print()
print("| case | median Gbit/s | min | max | machine CPU busy (cores of 2) | iperf3 client CPU % | iperf3 server CPU % | retransmits (median) |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for c in cases:
    g = [float(r["gbps"]) for r in rows if r["case"] == c]
    med[c] = st.median(g)
    print(f"| {c} | {med[c]:.2f} | {min(g):.2f} | {max(g):.2f} | {m(c,'machine_cores_busy'):.2f} | {m(c,'iperf_client_cpu_pct'):.0f} | {m(c,'iperf_server_cpu_pct'):.0f} | {m(c,'retransmits'):.0f} |")
print()
def ratio(a, b):
    return f"{med[a]/med[b]:.2f}" if a in med and b in med and med[b] else "n/a"
print("Ratios of medians:")
print()
print(f"- c2h box / podman+slirp4netns: {ratio('c2h-box','c2h-podman-slirp4netns')}")
print(f"- c2h box / host loopback: {ratio('c2h-box','loopback')}")
print(f"- h2c box -p / podman -p (rootlessport): {ratio('h2c-box','h2c-podman-rootlessport')}")
print(f"- h2c box -p / podman -p (slirp4netns port handler): {ratio('h2c-box','h2c-podman-slirp4netns-handler')}")
print(f"- h2c box -p / host loopback: {ratio('h2c-box','loopback')}")
print(f"- c2c box network / podman network: {ratio('c2c-box-network','c2c-podman-network')}")
print(f"- c2c box network / host loopback: {ratio('c2c-box-network','loopback')}")
if "c2h-podman-pasta" in med:
    print(f"- c2h box / podman+pasta: {ratio('c2h-box','c2h-podman-pasta')}")
    print(f"- h2c box / podman+pasta: {ratio('h2c-box','h2c-podman-pasta')}")
print()
s = list(csv.DictReader(open(f"{res}/startup.tsv"), delimiter="\t"))
def q(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p * len(v)))]
print(f"### Start-up: box run --rm IMG true, {sruns} interleaved pairs (ms)")
print()
print("| network | median | p10 | p90 | min | median CPU ms |")
print("|---|---:|---:|---:|---:|---:|")
sm = {}
for n in ("slirp", "none"):
    w = [float(r["wall_ms"]) for r in s if r["network"] == n]
    c = [float(r["cpu_ms"]) for r in s if r["network"] == n]
    sm[n] = st.median(w)
    print(f"| {n} | {sm[n]:.2f} | {q(w,.1):.2f} | {q(w,.9):.2f} | {min(w):.2f} | {st.median(c):.2f} |")
by = {}
for r in s:
    by.setdefault(r["pair"], {})[r["network"]] = float(r["wall_ms"])
d = [v["slirp"] - v["none"] for v in by.values() if len(v) == 2]
print()
print(f"slirp - none: difference of medians {sm['slirp']-sm['none']:.2f} ms; median of paired differences {st.median(d):.2f} ms")
print()
print("### Targets")
print()
def verdict(ok):
    return "MET" if ok else "MISSED"
c2h = med.get("c2h-box"); s4n = med.get("c2h-podman-slirp4netns"); h2c = med.get("h2c-box")
print(f"- container -> host >= podman+slirp4netns in the same run: box {c2h:.2f} vs {s4n:.2f} Gbit/s: {verdict(c2h >= s4n)}")
print(f"- host -> container via -p >= 10 Gbit/s: box {h2c:.2f} Gbit/s: {verdict(h2c >= 10)}")
dd = st.median(d)
print(f"- default network start-up cost <= 2 ms over --network none: {dd:.2f} ms (paired median; {sm['slirp']-sm['none']:.2f} ms difference of medians): {verdict(dd <= 2)}")
EOF
[[ -f $RES/flood.md ]] && { echo; cat "$RES/flood.md"; } >>"$RES/summary.md"
cat "$RES/summary.md"
say "results in $RES"
