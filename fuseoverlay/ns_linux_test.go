package fuseoverlay

// The namespace harness: each Test* re-executes the test binary in a new
// user and mount namespace (userns.Start) where it runs one scenario as
// root, the way box's init stage calls Mount. The scenario reports
// failures on stderr and log lines on stdout; the parent turns them into
// t.Error and t.Log.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/box-run/box/userns"
	"golang.org/x/sys/unix"
)

const (
	envScenario = "BOX_FUSEOVERLAY_TEST_SCENARIO" // set: run this scenario, not the tests
	envDir      = "BOX_FUSEOVERLAY_TEST_DIR"      // the scenario's scratch dir
)

// scenarios run inside the namespace, registered by the test files.
var scenarios = map[string]func(*check){}

func TestMain(m *testing.M) {
	if s := os.Getenv(envScenario); s != "" {
		os.Exit(runScenario(s))
	}
	os.Exit(m.Run())
}

// inNamespace runs a scenario in a fresh user+mount namespace.
func inNamespace(t *testing.T, scenario string) {
	t.Helper()
	m, reason, err := userns.Detect()
	if err != nil {
		t.Fatalf("detecting the id mapping: %v", err)
	}
	t.Logf("uid %d, mapping %v: %s", os.Getuid(), m, reason)
	cmd := &exec.Cmd{Path: "/proc/self/exe", Args: []string{os.Args[0]}}
	cmd.Env = append(os.Environ(), envScenario+"="+scenario, envDir+"="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := userns.Start(cmd, m, 0); err != nil {
		t.Fatalf("starting a user+mount namespace (these tests need one and do not skip): %v", err)
	}
	err = cmd.Wait()
	for sc := bufio.NewScanner(&stdout); sc.Scan(); {
		t.Log(sc.Text())
	}
	for sc := bufio.NewScanner(&stderr); sc.Scan(); {
		t.Error(sc.Text())
	}
	if err != nil {
		t.Errorf("scenario %q: %v", scenario, err)
	}
}

// check is a scenario's testing.T.
type check struct {
	dir      string
	failed   bool
	cleanups []func()
}

// fatal unwinds a scenario from Fatalf.
type fatal struct{}

func runScenario(name string) int {
	if err := userns.ChildInit(); err != nil {
		fmt.Fprintln(os.Stderr, "userns.ChildInit:", err)
		return 3
	}
	f := scenarios[name]
	if f == nil {
		fmt.Fprintln(os.Stderr, "unknown scenario", name)
		return 2
	}
	c := &check{dir: os.Getenv(envDir)}
	// Files made here may belong to ids the parent cannot remove, and
	// overlayfs leaves a mode 000 work/work: clean up from inside.
	c.cleanup(func() { clearDir(c.dir) })
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(fatal); !ok {
					c.Errorf("panic: %v\n%s", r, debug.Stack())
				}
			}
		}()
		f(c)
	}()
	for _, fn := range slices.Backward(c.cleanups) {
		fn()
	}
	if c.failed {
		return 1
	}
	return 0
}

func (c *check) Errorf(format string, args ...any) {
	c.failed = true
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

func (c *check) Fatalf(format string, args ...any) {
	c.Errorf(format, args...)
	panic(fatal{})
}

func (c *check) Logf(format string, args ...any) { fmt.Printf(format+"\n", args...) }

func (c *check) cleanup(f func()) { c.cleanups = append(c.cleanups, f) }

func (c *check) must(err error) {
	if err != nil {
		c.Fatalf("%v", err)
	}
}

// container is one stacking's dirs under the scratch dir.
type container struct {
	Options
	name string
}

// newContainer prepares dirs for a stacking of lowers named name.
func (c *check) newContainer(name string, lowers []string, readOnly, withUpper bool) container {
	d := filepath.Join(c.dir, name)
	c.must(os.MkdirAll(d, 0o755))
	o := Options{Lower: lowers, Target: filepath.Join(d, "rootfs"), ReadOnly: readOnly}
	if withUpper {
		o.Upper, o.Work = filepath.Join(d, "upper"), filepath.Join(d, "work")
	}
	return container{o, name}
}

// mount mounts ct with mode, expecting success, and unmounts at the end.
func (c *check) mount(mode string, ct container) string {
	if mode != Copy {
		if err := os.Mkdir(ct.Target, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			c.Fatalf("%v", err)
		}
	}
	used, err := Mount(mode, ct.Options)
	if err != nil {
		c.Fatalf("%s: Mount(%s): %v", ct.name, mode, err)
	}
	c.cleanup(func() { unix.Unmount(ct.Target, unix.MNT_DETACH) })
	return used
}

func (c *check) unmount(ct container) {
	if err := unix.Unmount(ct.Target, 0); err != nil {
		c.Errorf("%s: unmount: %v", ct.name, err)
	}
}

// needFuse fails the scenario with the fix when fuse-overlayfs cannot run.
func (c *check) needFuse() {
	if _, err := exec.LookPath(fuseBinary); err != nil {
		c.Fatalf("fuse-overlayfs is not on PATH (install the fuse-overlayfs package): %v", err)
	}
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		c.Fatalf("cannot open /dev/fuse (as root: chmod 0666 /dev/fuse): %v", err)
	}
	f.Close()
}

// multiID reports whether the namespace maps more than one uid, so that
// files can belong to someone other than root.
func multiID() bool {
	b, _ := os.ReadFile("/proc/self/uid_map")
	var total int
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var in, out, n int
		fmt.Sscan(line, &in, &out, &n)
		total += n
	}
	return total > 1
}
