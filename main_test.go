package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/box-run/box/image"
	"github.com/box-run/box/internal/testkill"
	"github.com/box-run/box/run"
	"github.com/box-run/box/slirp"
	"github.com/box-run/box/userns"
	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"
)

// The test binary is box: testscript runs it under the name "box", and box's
// re-executed stages come back through here too (argv[0] "box").
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"box": main, "box-code-mapped": codeMapped})
}

var (
	fixtureOnce sync.Once
	fixtureSet  *fixtures
	fixtureErr  error
)

func TestScripts(t *testing.T) {
	runScripts(t, "testscripts", "")
}

// TestOverlayModes runs the scripts whose behaviour depends on the layer
// stack once per mode: kernel overlay, fuse-overlayfs and the flat copy.
func TestOverlayModes(t *testing.T) {
	for _, mode := range []string{"kernel", "fuse", "copy"} {
		t.Run(mode, func(t *testing.T) { runScripts(t, "testscripts/overlay", mode) })
	}
}

func runScripts(t *testing.T, dir, overlay string) {
	if os.Geteuid() == 0 {
		t.Fatal("box's tests exercise the rootless paths: run them as an unprivileged user (see README), not as root")
	}
	if _, _, err := userns.Detect(); err != nil {
		t.Fatalf("detecting the id mapping: %v", err)
	}
	setup := setupScript
	if overlay != "" {
		setup = func(env *testscript.Env) error {
			if err := setupScript(env); err != nil {
				return err
			}
			env.Setenv("OVERLAY", overlay)
			// fuse-overlayfs daemons a container has (the mode's own one).
			fuse := "0"
			if overlay == "fuse" {
				fuse = "1"
			}
			env.Setenv("FUSE_DAEMONS", fuse)
			conf := filepath.Join(env.WorkDir, "config", "box")
			if err := os.MkdirAll(conf, 0o700); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(conf, "config.toml"), []byte("[storage]\noverlay = \""+overlay+"\"\n"), 0o600)
		}
	}
	testscript.Run(t, testscript.Params{
		Dir:                 dir,
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup:               setup,
		Condition:           condition,
		Cmds: map[string]func(*testscript.TestScript, bool, []string){
			"tls-registry":    cmdTLSRegistry,
			"ls-layer":        cmdLsLayer,
			"store-check":     cmdStoreCheck,
			"wait-staging":    cmdWaitStaging,
			"host-absent":     cmdHostAbsent,
			"exitcode":        cmdExitCode,
			"expand":          cmdExpand,
			"image-id":        cmdImageID,
			"pty":             cmdPty,
			"wait-file":       cmdWaitFile,
			"no-process":      cmdNoProcess,
			"mark":            cmdMark,
			"signal-box":      cmdSignalBox,
			"serve-tcp":       cmdServeTCP,
			"serve-dns":       cmdServeDNS,
			"http-get":        cmdHTTPGet,
			"port-of":         cmdPortOf,
			"wait-running":    cmdWaitRunning,
			"udp-send":        cmdUDPSend,
			"kill-monitor":    cmdKillMonitor,
			"set-boot-id":     cmdSetBootID,
			"build-static":    cmdBuildStatic,
			"serve-udp-sink":  cmdServeUDPSink,
			"monitor-usage":   cmdMonitorUsage,
			"slurm-ready":     cmdSlurmReady,
			"wait-job":        cmdWaitJob,
			"wait-job-ending": cmdWaitJobEnding,
			"wait-status":     cmdWaitStatus,
			"nothing-left":    cmdNothingLeft,
			"shared-ci-ready": cmdSharedCIReady,
			"wait-stall":      cmdWaitStall,
			"kill-after":      cmdKillAfter,
			"signal-after":    cmdSignalAfter,
			"mixed-ops":       cmdMixedOps,
			"cdi-ready":       cmdCDIReady,
			"registry-log":    cmdRegistryLog,
			"env-from":        cmdEnvFrom,
			"serve-unix":      cmdServeUnix,
			"serve-display":   cmdServeDisplay,
			"xauth-file":      cmdXauthFile,
			"fuse-mount":      cmdFuseMount,
			"init-pid":        cmdInitPid,
			"kill-at":         cmdKillAt,
		},
	})
}

// setupScript gives each script its own home, config and store, and its own
// in-process registry holding the fixture images ($REGISTRY).
func setupScript(env *testscript.Env) error {
	fixtureOnce.Do(func() { fixtureSet, fixtureErr = buildFixtures() })
	if fixtureErr != nil {
		return fixtureErr
	}
	srv := startRegistry()
	env.Defer(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	if err := fixtureSet.push(host); err != nil {
		return err
	}
	work := env.WorkDir
	home := filepath.Join(work, "home")
	for _, d := range []string{home, filepath.Join(work, "config"), filepath.Join(work, "data")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	// A script that fails half way may leave a detached container running:
	// stop its monitor (the container dies with it).
	env.Defer(func() { killContainers(filepath.Join(work, "data", "box", "containers")) })
	env.Setenv("REGISTRY", host)
	env.Setenv("HOME", home)
	env.Setenv("XDG_CONFIG_HOME", filepath.Join(work, "config"))
	env.Setenv("XDG_DATA_HOME", filepath.Join(work, "data"))
	env.Setenv("STORE", filepath.Join(work, "data", "box"))
	env.Setenv("DOCKER_CONFIG", filepath.Join(home, ".docker"))
	env.Setenv("PATH", os.Getenv("PATH"))
	env.Setenv("UID", fmt.Sprint(os.Getuid()))
	env.Setenv("GOARCH", runtime.GOARCH)
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	env.Setenv("OTHERARCH", other)
	return nil
}

// conditions are the script conditions box adds, each described; an unknown
// one is an error rather than false.
var conditions = map[string]struct {
	desc string
	eval func() bool
}{
	"ping": {"the user may open ICMP sockets (net.ipv4.ping_group_range)", slirp.PingAllowed},
	"cgroup-limits": {"a cgroup v2 subtree is delegated to the user, with the memory, cpu and pids controllers", func() bool {
		allowed, _, err := run.HostLimits()
		return err == nil && len(allowed) == 3
	}},
	"fuse": {"the user can mount a FUSE filesystem (/dev/fuse, fusermount3 and fuse-overlayfs)", func() bool {
		_, err1 := exec.LookPath("fusermount3")
		_, err2 := exec.LookPath("fuse-overlayfs")
		f, err3 := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
		if err3 == nil {
			f.Close()
		}
		return err1 == nil && err2 == nil && err3 == nil
	}},
	"shared-fill": {"this run fills the CI's shared store (.ci/run sets BOX_CI_SHARED_FILL before the suites)", func() bool {
		return os.Getenv("BOX_CI_SHARED_FILL") != ""
	}},
	"slurm-linuxproc": {"Slurm tracks a job's processes by their tree (ProctrackType=proctrack/linuxproc), so box, not Slurm, stops a detached container", func() bool {
		out, err := exec.Command("scontrol", "show", "config").Output()
		return err == nil && regexp.MustCompile(`(?m)^ProctrackType\s*=\s*proctrack/linuxproc`).Match(out)
	}},
	"subuid": {"the user has a subordinate id range and newuidmap", func() bool {
		m, _, err := userns.Detect()
		return err == nil && !m.Single()
	}},
}

func condition(cond string) (bool, error) {
	c, ok := conditions[cond]
	if !ok {
		return false, fmt.Errorf("unknown condition %q", cond)
	}
	return c.eval(), nil
}

// cmdTLSRegistry starts Debian's docker-registry with TLS and basic auth for
// this script and pushes the hello and alpine fixtures into it.
// Sets TLSREG, TLSCA, TLSUSER, TLSPASS.
func cmdTLSRegistry(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! tls-registry")
	}
	dir := ts.MkAbs("tls-registry")
	ts.Check(os.MkdirAll(dir, 0o700))
	r, err := startTLSRegistry(dir)
	ts.Check(err)
	ts.Defer(r.stop)
	opts, err := r.pushOptions()
	ts.Check(err)
	ts.Check(fixtureSet.pushOnly(r.host, []string{"hello:latest", "library/alpine:latest", "multi:latest"}, opts...))
	ts.Setenv("TLSREG", r.host)
	ts.Setenv("TLSCA", r.caFile)
	ts.Setenv("TLSUSER", r.user)
	ts.Setenv("TLSPASS", r.pass)
}

// cmdLsLayer lists layer N of an image in the store, one line per entry:
// type, permissions, owner as seen inside containers, path, and extras.
func cmdLsLayer(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: ls-layer IMAGE N")
	}
	st, err := image.Open(image.Options{Root: ts.Getenv("STORE")})
	ts.Check(err)
	img, err := st.Lookup(args[0])
	ts.Check(err)
	var n int
	fmt.Sscan(args[1], &n)
	if n >= len(img.Layers) {
		ts.Fatalf("image has %d layers", len(img.Layers))
	}
	m, _, err := userns.Detect()
	ts.Check(err)
	root := st.LayerDir(img.Layers[n])
	var out []string
	ts.Check(filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		st := fi.Sys().(*syscall.Stat_t)
		line := fmt.Sprintf("%s %s %d:%d %s", typeChar(fi.Mode()), fi.Mode().Perm(), toContainer(m.UIDs, int(st.Uid)), toContainer(m.GIDs, int(st.Gid)), rel)
		if fi.Mode()&os.ModeSetuid != 0 {
			line += " setuid"
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			t, _ := os.Readlink(p)
			line += " -> " + t
		}
		if fi.Mode()&os.ModeCharDevice != 0 {
			line += fmt.Sprintf(" dev=%d,%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
		if fi.Mode().IsRegular() && st.Nlink > 1 {
			line += fmt.Sprintf(" links=%d", st.Nlink)
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			line += xattrs(p)
		}
		out = append(out, line)
		return nil
	}))
	sort.Strings(out)
	fmt.Fprintln(ts.Stdout(), strings.Join(out, "\n"))
}

func typeChar(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "d"
	case m&os.ModeSymlink != 0:
		return "l"
	case m&os.ModeCharDevice != 0:
		return "c"
	case m&os.ModeNamedPipe != 0:
		return "p"
	}
	return "-"
}

func toContainer(maps []userns.IDMap, host int) int {
	for _, m := range maps {
		if host >= m.HostID && host < m.HostID+m.Size {
			return host - m.HostID + m.ContainerID
		}
	}
	return -1
}

func xattrs(p string) string {
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(p, buf)
	if err != nil || n == 0 {
		return ""
	}
	var out []string
	for _, k := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		v := make([]byte, 256)
		vn, _ := unix.Lgetxattr(p, k, v)
		if vn < 0 {
			vn = 0
		}
		out = append(out, fmt.Sprintf(" xattr:%s=%s", k, v[:vn]))
	}
	sort.Strings(out)
	return strings.Join(out, "")
}

// cmdStoreCheck checks the store's invariants: box system check passes and
// finds not even a leftover, and, looked at directly, no staging is left
// behind, every listed image is complete, no layer is without an image.
// "store-check empty" also requires no images and no layers.
func cmdStoreCheck(ts *testscript.TestScript, neg bool, args []string) {
	root := ts.Getenv("STORE")
	var problems []string
	if err := ts.Exec("box", "system", "check"); err != nil {
		problems = append(problems, fmt.Sprintf("box system check: %v", err))
	}
	if out := strings.TrimSpace(ts.ReadFile("stdout")); out != "" {
		problems = append(problems, "box system check found:\n"+out)
	}
	tmp, _ := os.ReadDir(filepath.Join(root, "tmp"))
	for _, e := range tmp {
		problems = append(problems, "left in tmp/: "+e.Name())
	}
	st, err := image.Open(image.Options{Root: root})
	ts.Check(err)
	imgs, err := st.Images()
	ts.Check(err)
	used := map[string]bool{}
	for _, img := range imgs {
		for _, l := range img.Layers {
			used[strings.TrimPrefix(l, "sha256:")] = true
			if _, err := os.Lstat(st.LayerDir(l)); err != nil {
				problems = append(problems, fmt.Sprintf("image %v lacks layer %s", img.Names, l))
			}
		}
	}
	layers, _ := os.ReadDir(filepath.Join(root, "layers"))
	for _, l := range layers {
		if !used[l.Name()] {
			problems = append(problems, "layer without image: "+l.Name())
		}
	}
	if len(args) == 1 && args[0] == "empty" {
		if len(imgs) > 0 || len(layers) > 0 {
			problems = append(problems, fmt.Sprintf("store not empty: %d images, %d layers", len(imgs), len(layers)))
		}
	}
	if neg {
		if len(problems) == 0 {
			ts.Fatalf("store is consistent")
		}
		return
	}
	if len(problems) > 0 {
		ts.Fatalf("store %s:\n%s", root, strings.Join(problems, "\n"))
	}
}

// cmdWaitStaging waits until a pull has staging in the store (a layer is
// being unpacked), so a script can kill it half way.
func cmdWaitStaging(ts *testscript.TestScript, neg bool, args []string) {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ents, _ := os.ReadDir(filepath.Join(ts.Getenv("STORE"), "tmp"))
		for _, e := range ents {
			if e.IsDir() {
				if fs, _ := os.ReadDir(filepath.Join(ts.Getenv("STORE"), "tmp", e.Name(), "rootfs")); len(fs) > 0 {
					return
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	ts.Fatalf("no staging appeared in %s/tmp within 20s", ts.Getenv("STORE"))
}

// cmdWaitStall waits until the script's registry has sent the N bytes of
// stall/N/ and stopped, so a script can kill a pull at that point.
func cmdWaitStall(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: wait-stall N")
	}
	limit, err := strconv.ParseInt(args[0], 10, 64)
	ts.Check(err)
	select {
	case <-stallOf(ts.Getenv("REGISTRY"), args[0], limit).stalled:
	case <-time.After(30 * time.Second):
		ts.Fatalf("the registry did not stall after %s bytes within 30s", args[0])
	}
}

// cmdKillAfter runs a program, SIGKILLs it after a delay if it still
// runs, and waits: "kill-after 20ms box rmi x" cuts a command short at a
// point real timing picks. Whether it finished or was killed, and with
// what status, is not asserted; what it left behind is the script's.
func cmdKillAfter(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: kill-after DURATION PROGRAM [ARGS...]")
	}
	d, err := time.ParseDuration(args[0])
	ts.Check(err)
	cmd := exec.Command(args[1], args[2:]...)
	cmd.Dir = ts.Getenv("WORK")
	cmd.Env = scriptEnv(ts)
	ts.Check(cmd.Start())
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
		fmt.Fprintf(ts.Stdout(), "%s finished before %s\n", args[1], d)
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		fmt.Fprintf(ts.Stdout(), "%s killed after %s\n", args[1], d)
	}
}

// cmdKillAt runs a command with _BOX_TEST_KILL_AT=STEP, so that box (or
// a process it started: run -d's monitor) SIGKILLs itself at that named
// point of its work (package internal/testkill): "kill-at rmi-untagged
// box rmi x". It fails unless the point was reached. The command's status
// is printed, not asserted; what it left behind is the script's to check.
func cmdKillAt(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: kill-at STEP PROGRAM [ARGS...]")
	}
	mark := ts.MkAbs(".killed-at-" + args[0])
	os.Remove(mark)
	var out bytes.Buffer
	cmd := exec.Command(args[1], args[2:]...)
	cmd.Dir = ts.Getenv("WORK")
	cmd.Env = append(scriptEnv(ts), testkill.Env+"="+args[0], testkill.MarkEnv+"="+mark)
	cmd.Stdout, cmd.Stderr = &out, &out
	ts.Check(cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		ts.Fatalf("%s still ran after 60 s", args[1])
	}
	if _, err := os.Stat(mark); err != nil {
		ts.Fatalf("%s ended (%v) without reaching %s:\n%s", strings.Join(args[1:], " "), cmd.ProcessState, args[0], out.String())
	}
	os.Remove(mark)
	fmt.Fprintf(ts.Stdout(), "killed at %s; %s: %v\n", args[0], args[1], cmd.ProcessState)
}

// cmdSignalAfter runs a program, sends it (not its group) a signal after
// a while, waits, and prints its output and "exit N", N its exit status:
// "signal-after 1s TERM box exec c sleep 100" is a timeout's TERM.
func cmdSignalAfter(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: signal-after DURATION SIGNAL PROGRAM [ARGS...]")
	}
	d, err := time.ParseDuration(args[0])
	ts.Check(err)
	sig := unix.SignalNum("SIG" + args[1])
	if sig == 0 {
		ts.Fatalf("unknown signal %s", args[1])
	}
	var out bytes.Buffer
	cmd := exec.Command(args[2], args[3:]...)
	cmd.Dir = ts.Getenv("WORK")
	cmd.Env = scriptEnv(ts)
	cmd.Stdout, cmd.Stderr = &out, &out
	ts.Check(cmd.Start())
	time.Sleep(d)
	cmd.Process.Signal(sig)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		ts.Fatalf("%s still ran 30 s after SIG%s", args[2], args[1])
	}
	fmt.Fprintf(ts.Stdout(), "%sexit %d\n", out.String(), cmd.ProcessState.ExitCode())
}

// cmdHostAbsent fails if a path exists on the host: for escapes a hostile
// layer must not achieve.
func cmdHostAbsent(ts *testscript.TestScript, neg bool, args []string) {
	for _, p := range args {
		if _, err := os.Lstat(p); err == nil {
			os.Remove(p)
			ts.Fatalf("%s exists on the host: a layer escaped the store", p)
		}
	}
}

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }

// cmdFuseMount mounts a FUSE filesystem (fuse-overlayfs over an empty
// lower directory) on DIR, the user's own mount, until the script ends:
// fuse-mount DIR. Box treats FUSE as it treats NFS: no overlay upper
// directories there.
func cmdFuseMount(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: fuse-mount DIR")
	}
	dir := ts.MkAbs(args[0])
	aux := ts.MkAbs(".fuse-" + filepath.Base(dir))
	for _, d := range []string{dir, aux + "/lower", aux + "/upper", aux + "/work"} {
		ts.Check(os.MkdirAll(d, 0o700))
	}
	out, err := exec.Command("fuse-overlayfs", "-o", "lowerdir="+aux+"/lower,upperdir="+aux+"/upper,workdir="+aux+"/work", dir).CombinedOutput()
	if err != nil {
		ts.Fatalf("fuse-overlayfs: %v: %s", err, out)
	}
	ts.Defer(func() { exec.Command("fusermount3", "-u", "-z", dir).Run() })
}

// cmdExitCode runs a program like exec and asserts its exit status:
// "exitcode 125 box pull x". Its output is kept for stdout/stderr checks.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N PROGRAM [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		got = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("running %s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

// cmdExpand replaces $VARS in files with the script's environment, for config
// files that name this script's registry.
func cmdExpand(ts *testscript.TestScript, neg bool, args []string) {
	for _, f := range args {
		p := ts.MkAbs(f)
		b, err := os.ReadFile(p)
		ts.Check(err)
		ts.Check(os.WriteFile(p, []byte(os.Expand(string(b), ts.Getenv)), 0o600))
	}
}

// cmdImageID sets VAR to the short id of IMAGE in the store.
func cmdImageID(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: image-id IMAGE VAR")
	}
	st, err := image.Open(image.Options{Root: ts.Getenv("STORE")})
	ts.Check(err)
	img, err := st.Lookup(args[0])
	ts.Check(err)
	ts.Setenv(args[1], strings.TrimPrefix(img.ID, "sha256:")[:12])
}

// cmdInitPid sets VAR to the host pid of box's init in a running
// container, from its record: "init-pid NAME VAR". docker's State.Pid
// (box inspect) is the workload's, which init starts as its child.
func cmdInitPid(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: init-pid CONTAINER VAR")
	}
	cs := run.Containers{Root: filepath.Join(ts.Getenv("STORE"), "containers")}
	ct, err := cs.Lookup(args[0])
	ts.Check(err)
	if ct.Status != "running" || ct.Pid <= 0 {
		ts.Fatalf("container %s is not running", args[0])
	}
	ts.Setenv(args[1], strconv.Itoa(ct.Pid))
}

// killContainers kills the inits of a store's running containers (SIGKILL);
// their monitors, which wait for them, then record the exit and end.
func killContainers(root string) {
	all, _ := run.Containers{Root: root}.List()
	for _, ct := range all {
		if ct.Status == "running" && ct.Pid > 0 {
			syscall.Kill(ct.Pid, syscall.SIGKILL)
		}
	}
}
