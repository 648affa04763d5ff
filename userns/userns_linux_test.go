//go:build linux

package userns

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const unavailable = "user namespaces seem unavailable on this machine (this test needs them and does not skip)"

// startReport runs a "report" child with m and returns what it saw.
func startReport(t *testing.T, m Mapping, flags uintptr) report {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	cmd := childCmd("report")
	cmd.Env = append(cmd.Env, "BOX_USERNS_TEST_EXTRA=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.ExtraFiles = []*os.File{pr}
	if err := Start(cmd, m, flags); err != nil {
		pw.Close()
		t.Fatalf("%s: Start: %v", unavailable, err)
	}
	if len(cmd.ExtraFiles) != 1+btoi(m.Helper) {
		t.Errorf("ExtraFiles has %d entries after Start", len(cmd.ExtraFiles))
	}
	pw.WriteString("extra file kept")
	pw.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v\nstderr: %s", err, stderr.String())
	}
	var r report
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("parsing child report %q: %v\nstderr: %s", stdout.String(), err, stderr.String())
	}
	return r
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// parseMap reads /proc/PID/uid_map text (user_namespaces(7)).
func parseMap(t *testing.T, text string) []IDMap {
	t.Helper()
	var out []IDMap
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			t.Fatalf("bad map line %q", sc.Text())
		}
		var n [3]int
		for i := range f {
			var err error
			if n[i], err = strconv.Atoi(f[i]); err != nil {
				t.Fatalf("bad map line %q", sc.Text())
			}
		}
		out = append(out, IDMap{n[0], n[1], n[2]})
	}
	return out
}

// TestStartDetected is the real test: run it as a user with a subuid range
// (helper path) and as one without (single path).
func TestStartDetected(t *testing.T) {
	m, reason, err := Detect()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("uid %d: %v (helper=%v): %s", os.Getuid(), m, m.Helper, reason)
	if os.Getuid() == 0 {
		t.Log("running as root: the unprivileged paths are not exercised")
	}
	myUserNS, _ := os.Readlink("/proc/self/ns/user")
	myMntNS, _ := os.Readlink("/proc/self/ns/mnt")
	for _, tc := range []struct {
		name  string
		flags uintptr
	}{{"user+mnt", 0}, {"user+mnt+pid", unix.CLONE_NEWPID}} {
		t.Run(tc.name, func(t *testing.T) {
			r := startReport(t, m, tc.flags)
			t.Logf("child: %+v", r)
			if r.UID != 0 || r.GID != 0 {
				t.Errorf("inside: uid %d gid %d, want 0 0", r.UID, r.GID)
			}
			if got := parseMap(t, r.UIDMap); !reflect.DeepEqual(got, m.UIDs) {
				t.Errorf("uid_map = %v, want %v", got, m.UIDs)
			}
			if got := parseMap(t, r.GIDMap); !reflect.DeepEqual(got, m.GIDs) {
				t.Errorf("gid_map = %v, want %v", got, m.GIDs)
			}
			if !m.Helper && r.Setgroups != "deny" {
				t.Errorf("setgroups = %q, want deny for a single mapping", r.Setgroups)
			}
			if r.CapEff == "" || strings.Trim(r.CapEff, "0") == "" || r.CapEff != r.CapBnd {
				t.Errorf("CapEff %q, want the full bounding set %q", r.CapEff, r.CapBnd)
			}
			if r.Pdeathsig != int(syscall.SIGKILL) {
				t.Errorf("parent-death signal %d, want SIGKILL", r.Pdeathsig)
			}
			if r.UserNS == myUserNS || r.MntNS == myMntNS {
				t.Errorf("namespaces %s %s not new (ours %s %s)", r.UserNS, r.MntNS, myUserNS, myMntNS)
			}
			if r.Extra != "extra file kept" {
				t.Errorf("caller's ExtraFiles[0] read %q", r.Extra)
			}
			if r.SyncFDLeaked {
				t.Error("sync socket still open after ChildInit")
			}
			if len(r.LeftoverEnv) > 0 {
				t.Errorf("environment still has %v", r.LeftoverEnv)
			}
			if tc.flags&unix.CLONE_NEWPID != 0 && r.PID != 1 {
				t.Errorf("pid %d in the new pid namespace, want 1", r.PID)
			}
		})
	}
}

// fakeHelpers puts shell scripts in place of newuidmap/newgidmap.
func fakeHelpers(t *testing.T, script string) {
	dir := t.TempDir()
	for _, p := range []*string{&newuidmapCmd, &newgidmapCmd} {
		name := filepath.Join(dir, filepath.Base(*p))
		if err := os.WriteFile(name, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		old := *p
		*p = name
		t.Cleanup(func() { *p = old })
	}
}

func fakeHelperMapping() Mapping {
	std := []IDMap{{1, 100000, 65536}}
	return Mapping{
		UIDs:   []IDMap{{0, os.Getuid(), 1}, std[0]},
		GIDs:   []IDMap{{0, os.Getgid(), 1}, std[0]},
		Helper: true,
	}
}

// ownIDHelpers puts in place of newuidmap/newgidmap scripts that write
// what an unprivileged process may write itself (user_namespaces(7)), and
// returns the matching helper mapping: the helper path for any user.
func ownIDHelpers(t *testing.T) Mapping {
	fakeHelpers(t, `pid=$1; shift
case $(basename "$0") in
newgidmap) echo deny >/proc/$pid/setgroups || exit 1; echo "$*" >/proc/$pid/gid_map ;;
*) echo "$*" >/proc/$pid/uid_map ;;
esac`)
	return Mapping{UIDs: []IDMap{{0, os.Getuid(), 1}}, GIDs: []IDMap{{0, os.Getgid(), 1}}, Helper: true}
}

// The parent-death signal is a thread's, and the kernel sends it while a
// thread of the child has it. ChildInit's thread must therefore stay the
// caller's: a thread the runtime ends under other code takes the signal
// with it.
func TestChildInitKeepsPdeathsigThread(t *testing.T) {
	m := ownIDHelpers(t)
	cmd := childCmd("endthread")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := Start(cmd, m, 0); err != nil {
		notCloneError(t, err)
		t.Fatalf("Start: %v\nstderr: %s", err, stderr.String())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v\nstderr: %s", err, stderr.String())
	}
	if got := strings.TrimSpace(stdout.String()); got != strconv.Itoa(int(syscall.SIGKILL)) {
		t.Errorf("parent-death signal %s after the runtime ended a thread, want %d (SIGKILL)", got, syscall.SIGKILL)
	}
}

func TestStartHelperFails(t *testing.T) {
	fakeHelpers(t, `echo "$(basename $0): write to uid_map failed: Operation not permitted" >&2; exit 1`)
	cmd := childCmd("report")
	err := Start(cmd, fakeHelperMapping(), 0)
	if err == nil {
		t.Fatal("Start succeeded with failing helpers")
	}
	t.Log(err)
	notCloneError(t, err)
	for _, s := range []string{"running " + newuidmapCmd + " ", " 0 " + strconv.Itoa(os.Getuid()) + " 1 1 100000 65536",
		"write to uid_map failed: Operation not permitted", "hint:", "neither setuid root nor has file capabilities"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error lacks %q", s)
		}
	}
	if cmd.ProcessState == nil || cmd.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("child not killed and reaped: %v", cmd.ProcessState)
	}
}

// notCloneError fails with a clear message when Start failed at clone.
func notCloneError(t *testing.T, err error) {
	t.Helper()
	if strings.Contains(err.Error(), "starting user namespace child") {
		t.Fatalf("%s: %v", unavailable, err)
	}
}

func TestStartChildNeverCallsChildInit(t *testing.T) {
	fakeHelpers(t, "exit 0")
	defer func(d time.Duration) { StartTimeout = d }(StartTimeout)
	StartTimeout = time.Second
	cmd := childCmd("hang")
	t0 := time.Now()
	err := Start(cmd, fakeHelperMapping(), 0)
	if err == nil {
		t.Fatal("Start succeeded, want a timeout")
	}
	t.Log(err)
	notCloneError(t, err)
	if !strings.Contains(err.Error(), "no acknowledgement after 1s") || !strings.Contains(err.Error(), "ChildInit") {
		t.Errorf("error %q does not name the timeout and ChildInit", err)
	}
	if d := time.Since(t0); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
	if cmd.ProcessState == nil {
		t.Error("child not reaped")
	}
}

// With helpers that "succeed" without writing maps, ChildInit must refuse
// to carry on as an unmapped uid, and Start must report the child's exit.
func TestStartMapsNotWritten(t *testing.T) {
	fakeHelpers(t, "exit 0")
	cmd := childCmd("report")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := Start(cmd, fakeHelperMapping(), 0)
	if err == nil {
		t.Fatal("Start succeeded, want the child's exit")
	}
	t.Logf("%v; child stderr: %s", err, stderr.String())
	notCloneError(t, err)
	if !strings.Contains(err.Error(), "exited during start-up") {
		t.Errorf("error %q does not say the child exited", err)
	}
	if !strings.Contains(stderr.String(), "inside the namespace, not 0") {
		t.Errorf("child stderr %q does not report the unmapped uid", stderr.String())
	}
}

// Killing the process that called Start must kill the child, also after
// the helper path's re-exec (which clears the parent-death signal).
func TestChildDiesWithParent(t *testing.T) {
	cmd := childCmd("intermediate")
	// A file, not a buffer: with a buffer Wait would wait for every holder
	// of the pipe, including a surviving child.
	stderr, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Wait()
		msg, _ := os.ReadFile(stderr.Name())
		t.Fatalf("%s: intermediate: %v: %s", unavailable, err, msg)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("intermediate printed %q", line)
	}
	cmd.Process.Kill()
	cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		// Gone, or a zombie waiting for a reaper: either way dead.
		if err != nil || stateOf(string(b)) == "Z" {
			return
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("child %d outlived its killed parent: %s", pid, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func stateOf(stat string) string {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 || i+3 > len(stat) {
		return ""
	}
	return stat[i+2 : i+3]
}

func TestSysProcAttr(t *testing.T) {
	single := Mapping{UIDs: []IDMap{{0, 1002, 1}}, GIDs: []IDMap{{0, 1003, 1}}}
	helper := fakeHelperMapping()

	a, err := SysProcAttr(nil, single, unix.CLONE_NEWPID)
	if err != nil {
		t.Fatal(err)
	}
	want := &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID,
		Pdeathsig:   syscall.SIGKILL,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 1002, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 1003, Size: 1}},
		// GidMappingsEnableSetgroups false: setgroups is denied.
	}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("single: %+v\nwant    %+v", a, want)
	}

	base := &syscall.SysProcAttr{Setsid: true, Cloneflags: syscall.CLONE_NEWUTS}
	a, err = SysProcAttr(base, helper, 0)
	if err != nil {
		t.Fatal(err)
	}
	want = &syscall.SysProcAttr{
		Setsid:     true,
		Cloneflags: syscall.CLONE_NEWUTS | syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		Pdeathsig:  syscall.SIGKILL,
		// Every capability, raised as ambient so it survives the execve
		// before the maps are written.
		AmbientCaps: allCaps(),
	}
	if len(want.AmbientCaps) < 38 || want.AmbientCaps[0] != 0 {
		t.Errorf("allCaps() = %v", want.AmbientCaps)
	}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("helper: %+v\nwant    %+v", a, want)
	}
	if base.Cloneflags != syscall.CLONE_NEWUTS || base.Pdeathsig != 0 {
		t.Errorf("base modified: %+v", base)
	}

	for _, tt := range []struct {
		name  string
		base  *syscall.SysProcAttr
		m     Mapping
		flags uintptr
		want  string
	}{
		{"non-namespace flag", nil, single, syscall.CLONE_VM, "not namespace flags"},
		{"caller credential", &syscall.SysProcAttr{Credential: &syscall.Credential{}}, single, 0, "credentials"},
		{"caller maps", &syscall.SysProcAttr{GidMappings: []syscall.SysProcIDMap{{Size: 1}}}, helper, 0, "id mappings"},
		{"empty mapping", nil, Mapping{}, 0, "no entries"},
	} {
		if _, err := SysProcAttr(tt.base, tt.m, tt.flags); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}
