//go:build linux

package pid1

// ApplyCaps is tested for real: the test binary re-executes itself in a new
// user namespace, where it starts as root with every capability, applies
// the capabilities, and execs cat /proc/self/status so the parent sees what
// a workload would get.

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// capsChildEnv makes the test binary a capability child; its value is the
// mode (see capsChild).
const capsChildEnv = "BOX_RUN_CAPS_CHILD"

// init, not TestMain: the child must act before any test runs, and the
// package's TestMain (if any) belongs to the stage tests.
func init() {
	if mode := os.Getenv(capsChildEnv); mode != "" {
		if err := capsChild(mode); err != nil {
			fmt.Fprintln(os.Stderr, "caps child:", err)
		}
		os.Exit(3)
	}
}

func capsChild(mode string) error {
	cat, err := exec.LookPath("cat")
	if err != nil {
		return err
	}
	switch mode {
	case "root", "nonroot":
		if err := dirtyCaps(); err != nil {
			return err
		}
		if err := ApplyCaps(DefaultCaps, mode == "root"); err != nil {
			return err
		}
	case "lowered":
		// As after a setuid with PR_SET_KEEPCAPS: permitted kept, effective empty.
		if err := setCaps(func(d *unix.CapUserData) { d.Effective = 0 }); err != nil {
			return err
		}
		if err := ApplyCaps(DefaultCaps, true); err != nil {
			return err
		}
	case "bounding":
		if err := dropBounding(DefaultCaps); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}
	if err := SetNoNewPrivs(); err != nil {
		return err
	}
	status, err := os.ReadFile("/proc/thread-self/status")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "Cap") || strings.HasPrefix(line, "NoNewPrivs") {
			fmt.Println("pre", line)
		}
	}
	os.Stdout.Sync()
	return syscall.Exec(cat, []string{"cat", "/proc/self/status"}, os.Environ())
}

// dirtyCaps fills the inheritable and ambient sets, which ApplyCaps must
// empty: ambient capabilities survive exec even for a non-root user.
func dirtyCaps() error {
	if err := setCaps(func(d *unix.CapUserData) { d.Inheritable = d.Permitted }); err != nil {
		return err
	}
	for _, c := range []uintptr{unix.CAP_SYS_ADMIN, unix.CAP_NET_ADMIN, unix.CAP_CHOWN} {
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, c, 0, 0); err != nil {
			return fmt.Errorf("raising ambient capability %d: %w", c, err)
		}
	}
	return nil
}

func setCaps(f func(*unix.CapUserData)) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return err
	}
	f(&data[0])
	f(&data[1])
	return unix.Capset(&hdr, &data[0])
}

// runCapsChild starts the child as root of a new user namespace and returns
// the Cap* and NoNewPrivs lines it saw before exec (pre) and after (post).
func runCapsChild(t *testing.T, mode string) (pre, post map[string]string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), capsChildEnv+"="+mode)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:                 syscall.CLONE_NEWUSER,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		GidMappingsEnableSetgroups: false,
	}
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("caps child %q: %v\n%s%s\n(this test needs unprivileged user namespaces: see user.max_user_namespaces and kernel.apparmor_restrict_unprivileged_userns)", mode, err, out, stderr)
	}
	pre, post = map[string]string{}, map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		m := post
		if l, ok := strings.CutPrefix(line, "pre "); ok {
			m, line = pre, l
		}
		if k, v, ok := strings.Cut(line, ":"); ok && (strings.HasPrefix(k, "Cap") || k == "NoNewPrivs") {
			m[k] = strings.TrimSpace(v)
		}
	}
	return pre, post
}

func TestDefaultCapsMask(t *testing.T) {
	// Docker's documented default set.
	if m := capMask(DefaultCaps, 63); uint64(m[1])<<32|uint64(m[0]) != 0xa80425fb {
		t.Errorf("DefaultCaps mask = %#x%08x, want 0xa80425fb", m[1], m[0])
	}
	if m := capMask([]uintptr{unix.CAP_SYS_ADMIN, 40, 41}, 40); m != [2]uint32{1 << 21, 1 << 8} {
		t.Errorf("capMask ignores the kernel's last capability: %#x", m)
	}
}

func TestApplyCaps(t *testing.T) {
	const docker = "00000000a80425fb"
	last, err := lastCap()
	if err != nil {
		t.Fatal(err)
	}
	full := fmt.Sprintf("%016x", uint64(1)<<(last+1)-1)
	tests := []struct {
		mode      string
		pre, post map[string]string
	}{
		{"root",
			map[string]string{"CapInh": "0000000000000000", "CapPrm": docker, "CapEff": docker, "CapBnd": docker, "CapAmb": "0000000000000000", "NoNewPrivs": "1"},
			map[string]string{"CapInh": "0000000000000000", "CapPrm": docker, "CapEff": docker, "CapBnd": docker, "CapAmb": "0000000000000000", "NoNewPrivs": "1"}},
		{"nonroot",
			map[string]string{"CapInh": "0000000000000000", "CapPrm": "0000000000000000", "CapEff": "0000000000000000", "CapBnd": docker, "CapAmb": "0000000000000000", "NoNewPrivs": "1"},
			// Still uid 0, but no_new_privs keeps exec from raising the
			// permitted set above the empty one it had.
			map[string]string{"CapInh": "0000000000000000", "CapPrm": "0000000000000000", "CapEff": "0000000000000000", "CapBnd": docker, "CapAmb": "0000000000000000", "NoNewPrivs": "1"}},
		{"lowered",
			map[string]string{"CapInh": "0000000000000000", "CapPrm": docker, "CapEff": docker, "CapBnd": docker, "CapAmb": "0000000000000000", "NoNewPrivs": "1"},
			map[string]string{"CapInh": "0000000000000000", "CapPrm": docker, "CapEff": docker, "CapBnd": docker, "CapAmb": "0000000000000000", "NoNewPrivs": "1"}},
		{"bounding",
			map[string]string{"CapInh": "0000000000000000", "CapPrm": full, "CapEff": full, "CapBnd": docker, "CapAmb": "0000000000000000", "NoNewPrivs": "1"},
			map[string]string{"CapInh": "0000000000000000", "CapPrm": docker, "CapEff": docker, "CapBnd": docker, "CapAmb": "0000000000000000", "NoNewPrivs": "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			pre, post := runCapsChild(t, tt.mode)
			for _, s := range []struct {
				when      string
				got, want map[string]string
			}{{"before exec", pre, tt.pre}, {"after exec", post, tt.post}} {
				for k, want := range s.want {
					if s.got[k] != want {
						t.Errorf("%s: %s = %q, want %q", s.when, k, s.got[k], want)
					}
				}
			}
			// What counts: the workload cannot have or regain CAP_SYS_ADMIN.
			for _, k := range []string{"CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh"} {
				v, err := strconv.ParseUint(post[k], 16, 64)
				if err != nil || v&(1<<unix.CAP_SYS_ADMIN) != 0 {
					t.Errorf("after exec: %s = %q: CAP_SYS_ADMIN still there", k, post[k])
				}
			}
		})
	}
}
