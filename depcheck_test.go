package main

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/box-run/box/run/proto"
)

// TestLeafPackagesStayLeaves keeps the design's layering: config, userns,
// fuseoverlay, the image store, extraction, volumes and cgroup never import one another; run
// and main compose them.
func TestLeafPackagesStayLeaves(t *testing.T) {
	// Each leaf, and what of box's it may import besides its own
	// subpackages: the protocol and argv packages are imported by init's
	// early start, so they import next to nothing.
	leaves := map[string][]string{
		"config": nil, "userns": nil, "fuseoverlay": nil, "slirp": nil, "image": nil, "image/extract": nil,
		"run/proto": {"slirp/tap"}, "cli/args": nil, "volume": nil, "cgroup": nil, "device": {"run/proto", "slirp/tap"},
		"internal/finding": nil,
	}
	const mod = "github.com/box-run/box/"
	for leaf, allowed := range leaves {
		out, err := exec.Command("go", "list", "-deps", "./"+leaf).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", leaf, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			other, ok := strings.CutPrefix(dep, mod)
			// internal/ holds the small types leaves share.
			if !ok || strings.HasPrefix(other, "internal/") || other == leaf || strings.HasPrefix(other, leaf+"/") || slices.Contains(allowed, other) {
				continue
			}
			t.Errorf("%s imports %s: leaves must not import each other (compose them in run or main)", leaf, other)
		}
	}
}

// TestInitImportsFew keeps init's imports to those ready early: path/filepath
// and os/exec (which imports it) are needed by nothing else early, so with
// either init waited for every ready package sorted before "path/filepath",
// protobuf and the Dockerfile parser among them; net sorts late too.
func TestInitImportsFew(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./run/pid1").Output()
	if err != nil {
		t.Fatalf("go list ./run/pid1: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if slices.Contains([]string{"path/filepath", "os/exec", "net", "net/netip"}, dep) {
			t.Errorf("package run/pid1 imports %s, directly or not: init would run later (see run/pid1's doc)", dep)
		}
	}
}

// TestQuickImportsFew keeps box shell's and box exec's quick paths early
// (see package cli/quick's doc): net and net/netip sort late, and the
// configuration, the image store and package run bring the registry
// client and the netstack.
func TestQuickImportsFew(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./cli/quick").Output()
	if err != nil {
		t.Fatalf("go list ./cli/quick: %v", err)
	}
	const mod = "github.com/box-run/box/"
	for _, dep := range strings.Fields(string(out)) {
		if slices.Contains([]string{"net", "net/netip", mod + "config", mod + "image", mod + "run", mod + "cli"}, dep) {
			t.Errorf("package cli/quick imports %s, directly or not: it would run later (see its doc)", dep)
		}
	}
}

// TestInitRunsBeforeHeavyPackages checks what package pid1's early start
// is for: a re-executed init stage runs before the initialisers of the
// packages only the CLI and the monitor need. GODEBUG=inittrace=1 lists
// each initialiser as it runs; the stage fails at once here (no spec on fd
// 3). Go orders initialisers by dependencies and then by import path, so
// some unrelated small packages still come first; the netstack, the
// registry client, the CLI and the store must not.
func TestInitRunsBeforeHeavyPackages(t *testing.T) {
	initsOf := func(env ...string) []string {
		t.Helper()
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(exe, "version")
		cmd.Args = []string{"box", "version"}
		cmd.Env = append(os.Environ(), append(env, "GODEBUG=inittrace=1")...)
		out, _ := cmd.CombinedOutput()
		var inits []string
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) > 2 && f[0] == "init" {
				inits = append(inits, f[1])
			}
		}
		if len(inits) == 0 {
			t.Fatalf("no inittrace output:\n%s", out)
		}
		return inits
	}
	heavy := []string{"gvisor.dev/gvisor/pkg/tcpip/stack", "gvisor.dev/gvisor/pkg/tcpip/transport/tcp", "github.com/google/go-containerregistry/pkg/name", "github.com/google/go-containerregistry/pkg/v1/remote", "github.com/alecthomas/kong", "github.com/box-run/box/image", "net/http", "crypto/tls"}
	// The Dockerfile parser and the protobuf runtime its error stacks use
	// must not delay init either; prestart, which needs os/exec, does come
	// after them (see TestInitImportsFew).
	initHeavy := append(slices.Clone(heavy), "google.golang.org/protobuf/internal/filedesc", "github.com/moby/buildkit/frontend/dockerfile/parser")
	all := initsOf()
	early := initsOf(proto.StageEnv + "=init")
	for _, p := range early {
		if slices.Contains(initHeavy, p) {
			t.Errorf("%s was initialised before the init stage ran", p)
		}
	}
	// box run's speculative start of init (package prestart) comes before
	// them in the CLI too.
	i := slices.Index(all, "github.com/box-run/box/run/prestart")
	if i < 0 {
		t.Fatalf("no initialiser of package prestart in %q", all)
	}
	for _, p := range all[:i] {
		if slices.Contains(heavy, p) {
			t.Errorf("%s was initialised before package prestart's", p)
		}
	}
	// Package prefault maps the code and the heap in before the other
	// initialisers touch them: it imports nothing, so only the runtime's
	// own and a package or two sorted before it come first.
	if i := slices.Index(all, "github.com/box-run/box/internal/prefault"); i < 0 || i > 8 {
		t.Errorf("package prefault's initialiser ran as number %d of %d; it should be among the first 8", i+1, len(all))
	}
	if len(early) > len(all)*3/4 {
		t.Errorf("the init stage ran after %d of box's %d package initialisers; it should come well before", len(early), len(all))
	}
	t.Logf("the init stage runs after %d of %d package initialisers", len(early), len(all))
}

// TestPrefaultImportsNothing keeps package prefault's initialiser among
// the first (see its doc): an import of package syscall, say, would put it
// after a dozen others.
func TestPrefaultImportsNothing(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./internal/prefault").Output()
	if err != nil {
		t.Fatalf("go list ./internal/prefault: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep != "unsafe" && dep != "github.com/box-run/box/internal/prefault" {
			t.Errorf("package prefault imports %s, directly or not; it may import only unsafe", dep)
		}
	}
}

// TestNoCostlyInitialisers keeps out of box the packages whose
// initialisers every box process would pay for: the CDI library's pkg/cdi
// and the YAML library it brings (about 0.5 ms together, regular
// expressions and tables; package device reads CDI specs itself).
func TestNoCostlyInitialisers(t *testing.T) {
	// -buildvcs=false: the main package would be stamped with git's view
	// of the checkout, which git refuses to give a user who does not own it.
	out, err := exec.Command("go", "list", "-buildvcs=false", "-deps", ".").Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("go list: %v: %s", err, stderr)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, costly := range []string{"tags.cncf.io/container-device-interface/pkg/cdi", "tags.cncf.io/container-device-interface/internal/", "go.yaml.in/yaml/", "sigs.k8s.io/yaml", "gopkg.in/yaml."} {
			if strings.HasPrefix(dep, costly) {
				t.Errorf("box links %s, whose initialisers cost every box process start-up time", dep)
			}
		}
	}
}

// TestPrefaultMapsCode checks that package prefault's initialiser maps
// box's code in: just after the initialisers (box-code-mapped runs in place
// of box's main), all of it is mapped with it, and less without
// (BOX_NO_PREFAULT=1), where only the pages touched so far are.
func TestPrefaultMapsCode(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	mapped := func(env ...string) float64 {
		cmd := exec.Command(exe)
		cmd.Args = []string{"box-code-mapped"}
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("box-code-mapped: %v: %s", err, out)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
		if err != nil {
			t.Fatalf("box-code-mapped printed %q", out)
		}
		return v
	}
	on, off := mapped(), mapped("BOX_NO_PREFAULT=1")
	t.Logf("code mapped in after the initialisers: %.0f%% with prefault, %.0f%% without", on*100, off*100)
	if on < 0.95 {
		t.Errorf("%.0f%% of box's code is mapped in after the initialisers; want all of it", on*100)
	}
	if off > on-0.05 {
		t.Errorf("BOX_NO_PREFAULT=1 mapped %.0f%% of the code, the default %.0f%%; want the default to map more", off*100, on*100)
	}
}

// codeMapped prints how much of the executable's code mapping is mapped
// in (smaps' Rss over Size).
func codeMapped() {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	in := false
	var size, rss float64
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 6 && strings.Contains(f[0], "-") {
			in = f[1] == "r-xp" && f[5] == exe
			continue
		}
		if in && len(f) >= 2 {
			n, _ := strconv.ParseFloat(f[1], 64)
			switch f[0] {
			case "Size:":
				size = n
			case "Rss:":
				rss = n
			}
		}
	}
	if size == 0 {
		fmt.Println("no code mapping of", exe)
		os.Exit(1)
	}
	fmt.Printf("%.3f\n", rss/size)
	os.Exit(0)
}
