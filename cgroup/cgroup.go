// Package cgroup applies docker's --memory, --memory-swap, --cpus and
// --pids-limit to a container through cgroup v2, in the subtree the
// system delegates to the user, and reads a container's usage there.
//
// An unprivileged user may make cgroups only where root has handed a
// subtree over: systemd does so for user@UID.service (Delegate=yes), and
// an admin may chown a cgroup directory, its cgroup.procs,
// cgroup.subtree_control and cgroup.threads. Find looks for it from box's
// own cgroup (/proc/self/cgroup's "0::" line) upwards: the highest
// ancestor the user owns is where the delegation starts. Box makes
// DIR/box there, with the controllers enabled in both cgroup.subtree_control
// files, and a leaf DIR/box/ID per running container (Make). cgroup v2's
// no-internal-processes rule is why the leaves sit one level down: DIR/box
// holds no process, so it may hand controllers to its children.
//
// init is cloned straight into its leaf (clone3's CLONE_INTO_CGROUP, Go's
// SysProcAttr.CgroupFD, Linux 5.7), so nothing of the container ever runs
// outside it. Moving a process needs write access to cgroup.procs of the
// common ancestor of where it is and where it goes: box itself must run
// inside the delegated subtree. A login over ssh puts it in a session
// scope of root's, which Find names with the fix (systemd-run --user
// --scope).
//
// Nothing here is read unless a limit is asked for (or box info, box
// stats and box system check ask): a box run without limits costs no
// file reads.
//
// It does not own the flags' syntax (package run parses them into Limits)
// nor the container's record, which keeps the leaf's path.
//
// Written by hand rather than with containerd/cgroups: the whole job is
// a few files written in a subtree box finds itself, while that library's
// cgroup2 package links a D-Bus client for systemd and an eBPF library
// for device filters into every box process.
package cgroup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Limits are a container's limits as cgroup v2 takes them; zero fields are
// no limit.
type Limits struct {
	Memory int64 `json:"memory,omitempty"` // bytes (memory.max)
	// MemorySwap is docker's --memory-swap: memory and swap together, -1
	// for unlimited swap, 0 for docker's default (as much swap as memory,
	// where the kernel accounts for swap).
	MemorySwap int64 `json:"memorySwap,omitempty"`
	// MemoryLow is docker's --memory-reservation: memory the kernel
	// reclaims from the container only when nothing else is left to
	// reclaim (memory.low).
	MemoryLow int64 `json:"memoryLow,omitempty"`
	// CPUQuota is microseconds of CPU time per CPUPeriod (cpu.max); a
	// period alone keeps the quota unlimited.
	CPUQuota  int64 `json:"cpuQuota,omitempty"`
	CPUPeriod int64 `json:"cpuPeriod,omitempty"`
	// CPUExplicit: the quota and period came as docker's --cpu-quota and
	// --cpu-period, not --cpus (which inspect shows as NanoCpus).
	CPUExplicit bool `json:"cpuExplicit,omitempty"`
	// CPUShares is docker's --cpu-shares, a relative weight (2 to
	// 262144, 1024 being a container's default share), written as
	// cpu.weight.
	CPUShares int64 `json:"cpuShares,omitempty"`
	Pids      int64 `json:"pids,omitempty"` // pids.max
}

// Controllers are the controllers the limits need.
func (l Limits) Controllers() []string {
	var c []string
	if l.Memory > 0 || l.MemoryLow > 0 {
		c = append(c, "memory")
	}
	if l.CPUQuota > 0 || l.CPUPeriod > 0 || l.CPUShares > 0 {
		c = append(c, "cpu")
	}
	if l.Pids > 0 {
		c = append(c, "pids")
	}
	return c
}

// CPUWeight is cpu.weight (1 to 10000, default 100) for docker's
// --cpu-shares (2 to 262144, default 1024), converted as runc (1.3.2 and
// later) and crun (1.23 and later) convert it on cgroup v2, so that a
// container gets the same weight under box: a curve through the ends of
// both ranges and their defaults, so that 1024 is 100. With l the
// shares' base-2 logarithm, the weight is 10 to the power
// (l*l + 125*l)/612 - 7/34, rounded up.
func CPUWeight(shares int64) int64 {
	switch {
	case shares <= 0:
		return 100
	case shares <= 2:
		return 1
	case shares >= 262144:
		return 10000
	}
	l := math.Log2(float64(shares))
	return int64(math.Ceil(math.Pow(10, (l*l+125*l)/612-7.0/34)))
}

// setting is one interface file's value; optional ones are skipped where
// the kernel lacks the file (memory.swap.max without swap accounting).
type setting struct {
	file, value string
	optional    bool
}

// settings are what Make writes into a leaf.
func (l Limits) settings() []setting {
	var s []setting
	if l.Memory > 0 {
		s = append(s, setting{file: "memory.max", value: strconv.FormatInt(l.Memory, 10)})
		switch {
		case l.MemorySwap < 0:
			s = append(s, setting{file: "memory.swap.max", value: "max"})
		case l.MemorySwap > 0:
			// cgroup v2 limits swap alone, docker's flag memory and swap.
			s = append(s, setting{file: "memory.swap.max", value: strconv.FormatInt(l.MemorySwap-l.Memory, 10)})
		default:
			s = append(s, setting{file: "memory.swap.max", value: strconv.FormatInt(l.Memory, 10), optional: true})
		}
	}
	if l.MemoryLow > 0 {
		s = append(s, setting{file: "memory.low", value: strconv.FormatInt(l.MemoryLow, 10)})
	}
	if l.CPUQuota > 0 {
		s = append(s, setting{file: "cpu.max", value: fmt.Sprintf("%d %d", l.CPUQuota, l.period())})
	} else if l.CPUPeriod > 0 {
		s = append(s, setting{file: "cpu.max", value: fmt.Sprintf("max %d", l.CPUPeriod)})
	}
	if l.CPUShares > 0 {
		s = append(s, setting{file: "cpu.weight", value: strconv.FormatInt(CPUWeight(l.CPUShares), 10)})
	}
	if l.Pids > 0 {
		s = append(s, setting{file: "pids.max", value: strconv.FormatInt(l.Pids, 10)})
	}
	return s
}

// period is cpu.max's period: CPUPeriod, else the kernel's default.
func (l Limits) period() int64 {
	if l.CPUPeriod > 0 {
		return l.CPUPeriod
	}
	return defaultCPUPeriod
}

// Apply sets l on the running container's leaf dir (box update): every
// limit the leaf has a file for, "max" where l sets none, so that a
// limit taken away is lifted.
func Apply(dir string, l Limits) error {
	set := map[string]string{"memory.max": "max", "memory.swap.max": "max", "memory.low": "0",
		"cpu.max": "max " + strconv.Itoa(defaultCPUPeriod), "cpu.weight": "100", "pids.max": "max"}
	for _, s := range l.settings() {
		set[s.file] = s.value
	}
	for _, file := range []string{"memory.max", "memory.swap.max", "memory.low", "cpu.max", "cpu.weight", "pids.max"} {
		p := filepath.Join(dir, file)
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			continue // a controller the leaf does not have
		}
		if err := write(p, set[file]); err != nil {
			return fmt.Errorf("setting %s to %s: %w", file, set[file], err)
		}
	}
	return nil
}

// defaultCPUPeriod is cpu.max's period when no quota is set.
const defaultCPUPeriod = 100000

// Missing says what this host lacks for limits, and how to get it.
type Missing struct {
	What, Fix string
}

func (m *Missing) Error() string { return m.What + "; fix: " + m.Fix }

// fixUnified is the fix for a host that runs cgroup v1.
const fixUnified = "boot with systemd.unified_cgroup_hierarchy=1 (as root) for cgroup v2"

// fixScope is the fix for a box that runs outside the delegated subtree.
const fixScope = "start box in your systemd user session: systemd-run --user --scope box run ..."

// Delegation is the cgroup v2 subtree box may make cgroups in.
type Delegation struct {
	Mount string // where cgroup2 is mounted
	// Dir is the highest cgroup above box's own that the user owns: where
	// the delegation starts.
	Dir         string
	Self        string   // box's own cgroup
	Controllers []string // Dir's cgroup.controllers
}

// Limitable are the controllers box's limits use, in the order box info
// lists them.
var Limitable = []string{"memory", "cpu", "pids"}

// host is what find reads: the real one (Find), or a test's tree.
type host struct {
	mount  string // the cgroup2 mount point; "" if none
	hybrid bool   // cgroup2 beside a cgroup v1 hierarchy
	self   []byte // /proc/self/cgroup
	uid    int
	owner  func(path string) (uid int, err error)
	kernel string // uname's release
}

// find is Find on h.
func find(h host) (*Delegation, error) {
	if h.mount == "" {
		return nil, &Missing{"this host has no cgroup v2 (cgroup v1 only)", fixUnified}
	}
	root := readList(filepath.Join(h.mount, "cgroup.controllers"))
	if !slices.ContainsFunc(Limitable, func(c string) bool { return slices.Contains(root, c) }) {
		what := "the cgroup v2 at " + h.mount + " has no memory, cpu or pids controller"
		if h.hybrid {
			return nil, &Missing{"this host runs cgroup v1 (hybrid: " + what + ")", fixUnified}
		}
		return nil, &Missing{what, "enable them in the root's cgroup.subtree_control (as root)"}
	}
	return locate(h)
}

// locate is find without the check that the cgroup v2 root has controllers
// for limits: where the subtree delegated to the user starts.
func locate(h host) (*Delegation, error) {
	if h.mount == "" {
		return nil, &Missing{"this host has no cgroup v2 (cgroup v1 only)", fixUnified}
	}
	if !cloneIntoCgroup(h.kernel) {
		return nil, &Missing{"Linux " + h.kernel + " cannot start a process in a given cgroup (clone3's CLONE_INTO_CGROUP came with 5.7)", "a kernel of 5.7 or later"}
	}
	rel, ok := selfCgroup(h.self)
	if !ok {
		return nil, &Missing{"box's cgroup v2 is unknown (/proc/self/cgroup has no 0:: line)", fixScope}
	}
	self := filepath.Join(h.mount, rel)
	if uid, err := h.owner(self); err != nil || uid != h.uid || self == h.mount {
		slice := fmt.Sprintf("/user.slice/user-%d.slice/user@%d.service", h.uid, h.uid)
		if uid, err := h.owner(filepath.Join(h.mount, slice)); err == nil && uid == h.uid {
			return nil, &Missing{fmt.Sprintf("box runs in cgroup %s, outside the one systemd delegates to you (%s)", rel, slice), fixScope}
		}
		return nil, &Missing{fmt.Sprintf("no cgroup v2 subtree is delegated to you (box runs in cgroup %s, which is not yours)", rel),
			"have a systemd user manager (loginctl enable-linger, as root) and start box in it (systemd-run --user --scope box run ...), or have root delegate a cgroup to you"}
	}
	dir := self
	for {
		parent := filepath.Dir(dir)
		if parent == h.mount || len(parent) < len(h.mount) {
			break
		}
		if uid, err := h.owner(parent); err != nil || uid != h.uid {
			break
		}
		dir = parent
	}
	return &Delegation{Mount: h.mount, Dir: dir, Self: self, Controllers: readList(filepath.Join(dir, "cgroup.controllers"))}, nil
}

// cloneIntoCgroup tells whether a kernel release has CLONE_INTO_CGROUP
// (5.7); one it cannot read is given the benefit of the doubt.
func cloneIntoCgroup(release string) bool {
	var major, minor int
	if n, _ := fmt.Sscanf(release, "%d.%d", &major, &minor); n < 2 {
		return true
	}
	return major > 5 || major == 5 && minor >= 7
}

// selfCgroup is the cgroup v2 path in /proc/self/cgroup's text.
func selfCgroup(text []byte) (string, bool) {
	sc := bufio.NewScanner(bytes.NewReader(text))
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "0::"); ok && strings.HasPrefix(p, "/") {
			return filepath.Clean(p), true
		}
	}
	return "", false
}

// Check says which of want the delegated subtree lacks.
func (d *Delegation) Check(want ...string) error {
	var missing []string
	for _, c := range want {
		if !slices.Contains(d.Controllers, c) {
			missing = append(missing, c)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return &Missing{fmt.Sprintf("the cgroup delegated to you (%s) has no %s controller", d.rel(d.Dir), strings.Join(missing, ", ")),
		"have root delegate it: systemctl edit user@.service, [Service] Delegate=memory pids cpu"}
}

// rel is p as /proc/PID/cgroup would show it.
func (d *Delegation) rel(p string) string {
	r, err := filepath.Rel(d.Mount, p)
	if err != nil {
		return p
	}
	return "/" + r
}

// Base is the cgroup box's leaves are made in.
func (d *Delegation) Base() string { return filepath.Join(d.Dir, "box") }

// Make makes the leaf cgroup of container id with limits l, and returns
// its path and a descriptor of it to clone init into (see the package
// doc). Once the container is gone, Remove removes it.
func (d *Delegation) Make(id string, l Limits) (dir string, fd *os.File, err error) {
	if err := d.Check(l.Controllers()...); err != nil {
		return "", nil, err
	}
	// Every limitable controller the delegation has, so that box stats
	// reads the same files whichever limits a container has.
	var ctls []string
	for _, c := range Limitable {
		if slices.Contains(d.Controllers, c) {
			ctls = append(ctls, c)
		}
	}
	if err := d.enable(d.Dir, ctls); err != nil {
		return "", nil, err
	}
	base := d.Base()
	if err := os.Mkdir(base, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", nil, fmt.Errorf("making cgroup: %w", err)
	}
	if err := d.enable(base, ctls); err != nil {
		return "", nil, err
	}
	leaf := filepath.Join(base, id)
	if err := os.Mkdir(leaf, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", nil, fmt.Errorf("making cgroup: %w", err)
	}
	defer func() {
		if err != nil {
			os.Remove(leaf)
		}
	}()
	for _, s := range l.settings() {
		p := filepath.Join(leaf, s.file)
		if _, err := os.Stat(p); s.optional && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := write(p, s.value); err != nil {
			if s.file == "memory.swap.max" && errors.Is(err, fs.ErrNotExist) {
				return "", nil, &Missing{"--memory-swap needs swap accounting, which this kernel lacks", "boot with swapaccount=1 (as root), or leave --memory-swap out"}
			}
			return "", nil, fmt.Errorf("setting %s to %s: %w", s.file, s.value, err)
		}
	}
	fd, err = os.OpenFile(leaf, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, err
	}
	return leaf, fd, nil
}

// enable enables ctls for dir's children, unless they are already.
func (d *Delegation) enable(dir string, ctls []string) error {
	on := readList(filepath.Join(dir, "cgroup.subtree_control"))
	var add []string
	for _, c := range ctls {
		if !slices.Contains(on, c) {
			add = append(add, "+"+c)
		}
	}
	if len(add) == 0 {
		return nil
	}
	err := write(filepath.Join(dir, "cgroup.subtree_control"), strings.Join(add, " "))
	switch {
	case errors.Is(err, syscall.EBUSY):
		// cgroup v2's no-internal-processes rule.
		return &Missing{fmt.Sprintf("cgroup %s has processes of its own, so it cannot hand controllers to box's (cgroup v2 allows either)", d.rel(dir)),
			fmt.Sprintf("move them into a child first (mkdir %s/procs; echo $$ > %s/procs/cgroup.procs), or %s", dir, dir, fixScope)}
	case err != nil:
		return fmt.Errorf("enabling %s in cgroup %s: %w", strings.Join(ctls, ", "), d.rel(dir), err)
	}
	return nil
}

// Remove removes a container's leaf once its processes are gone: those
// of a container that just ended may take a moment to leave it.
func Remove(dir string) error {
	if dir == "" {
		return nil
	}
	for i := 0; ; i++ {
		err := os.Remove(dir)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) || i == 100 {
			return fmt.Errorf("removing cgroup: %w", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Leaves are the ids of the leaves under the delegation's box cgroup.
func (d *Delegation) Leaves() []string {
	ents, _ := os.ReadDir(d.Base())
	var ids []string
	for _, e := range ents {
		if e.IsDir() {
			ids = append(ids, e.Name())
		}
	}
	return ids
}

// Usage is what a container has used, as docker stats shows it.
type Usage struct {
	CPU         time.Duration // CPU time so far
	Memory      uint64        // bytes in use, less the inactive page cache
	MemoryLimit uint64        // 0: none
	Pids        uint64        // tasks (threads count)
}

// ReadUsage reads a leaf's usage. It fails where the leaf lacks the
// memory or pids controller's files.
func ReadUsage(dir string) (Usage, error) {
	var u Usage
	stat := readKeyed(filepath.Join(dir, "cpu.stat"))
	u.CPU = time.Duration(stat["usage_usec"]) * time.Microsecond
	cur, err := readUint(filepath.Join(dir, "memory.current"))
	if err != nil {
		return u, err
	}
	// docker's cgroup v2 figure: the page cache the kernel would drop
	// first does not count.
	if inactive := readKeyed(filepath.Join(dir, "memory.stat"))["inactive_file"]; inactive < cur {
		cur -= inactive
	}
	u.Memory = cur
	u.MemoryLimit, _ = readUint(filepath.Join(dir, "memory.max")) // "max": 0
	if u.Pids, err = readUint(filepath.Join(dir, "pids.current")); err != nil {
		return u, err
	}
	return u, nil
}

// write writes an interface file, which the kernel made: a file that is
// not there is an error, not one to create.
func write(p, value string) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// readList reads a space-separated list file such as cgroup.controllers.
func readList(p string) []string {
	b, _ := os.ReadFile(p)
	return strings.Fields(string(b))
}

// readKeyed reads a "key value" per line file such as cpu.stat.
func readKeyed(p string) map[string]uint64 {
	b, _ := os.ReadFile(p)
	m := map[string]uint64{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err == nil {
				m[k] = n
			}
		}
	}
	return m
}

// readUint reads a one-number file; "max" reads as 0.
func readUint(p string) (uint64, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0, nil
	}
	return strconv.ParseUint(s, 10, 64)
}
