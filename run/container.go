package run

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/box-run/box/internal/events"
	"github.com/box-run/box/internal/replace"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/box-run/box/cgroup"
	"github.com/box-run/box/internal/proc"
	"github.com/box-run/box/internal/testkill"
	"github.com/box-run/box/run/proto"
	"github.com/box-run/box/volume"
)

// Container is the record of one container, kept in containers/<id>/container.json.
type Container struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Image   string   `json:"image"`   // the name the user gave
	ImageID string   `json:"imageId"` // config digest
	Command []string `json:"command"`
	// Entrypoint and Cmd are what Command was made of (docker's rules:
	// the image's, --entrypoint, the arguments after the image).
	Entrypoint []string  `json:"entrypoint,omitempty"`
	Cmd        []string  `json:"cmd,omitempty"`
	Created    time.Time `json:"created"`
	Status     string    `json:"status"` // "created", "running", "exited"
	// Started is when the container last started running (see StartedAt).
	Started  time.Time `json:"started,omitzero"`
	Pid      int       `json:"pid,omitempty"`
	PidStart uint64    `json:"pidStart,omitempty"` // init's start time (clock ticks after boot)
	// NestedPID is set once the workload runs as PID 1 of a PID namespace
	// nested in init's (proto.Spec.NestedPID): box kill and stop signal
	// it, not init (see Containers.Kill).
	NestedPID bool   `json:"nestedPid,omitempty"`
	Monitor   int    `json:"monitor,omitempty"` // the monitor process, which records the exit
	MonStart  uint64 `json:"monitorStart,omitempty"`
	BootID    string `json:"bootId,omitempty"`
	ExitCode  int    `json:"exitCode"`
	// Error is why the workload could not start, when it could not (the
	// container is then "created", as docker leaves it; State.Error).
	Error    string        `json:"error,omitempty"`
	Finished time.Time     `json:"finished,omitzero"`
	Remove   bool          `json:"autoRemove,omitempty"`
	Ports    []proto.Port  `json:"ports,omitempty"`
	Mounts   []proto.Mount `json:"mounts,omitempty"`
	Network  *Network      `json:"network,omitempty"`
	// Limits are --memory, --cpus and --pids-limit's, applied through a
	// cgroup of the container's own (package cgroup).
	Limits *cgroup.Limits `json:"limits,omitempty"`
	// Cpuset is --cpuset-cpus and --cpuset-mems', which init is pinned
	// to at each start.
	Cpuset *Cpuset `json:"cpuset,omitempty"`
	// Cgroup is that cgroup's directory while the container runs.
	Cgroup string `json:"cgroup,omitempty"`
	// StopSignal and StopTimeout are what box stop does without -t: the
	// signal it sends first ("" = SIGTERM) and the seconds it waits before
	// SIGKILL (nil = 10, -1 = no limit).
	StopSignal  string `json:"stopSignal,omitempty"`
	StopTimeout *int   `json:"stopTimeout,omitempty"`
	// RestartCount is how often the --restart policy started it again
	// since it was last started by hand (docker's RestartCount).
	RestartCount int `json:"restartCount,omitempty"`
	// Restarting: the --restart policy will start it again, its monitor
	// waiting out docker's delay (see IsRestarting).
	Restarting bool `json:"restarting,omitempty"`
	// Labels are --label's; the image's are in its config.
	Labels map[string]string `json:"labels,omitempty"`
	// Health is its health check (nil: none); HealthStatus, read with the
	// record while it runs, is its HealthFile's status.
	Health       *HealthCheck `json:"health,omitempty"`
	HealthStatus string       `json:"-"`
	// Paused says that box pause suspended it (PausedFile in its
	// directory, read with the record).
	Paused bool `json:"-"`
	// Expose are --expose's ports (docker's "80/tcp" keys), besides the
	// image's EXPOSE.
	Expose []string `json:"expose,omitempty"`
	// Log is --log-driver's and --log-opt's (nil: the defaults).
	Log *LogConfig `json:"log,omitempty"`
	// generatedName: Name is RandomName's, which Create may change to
	// one not in use.
	generatedName bool
	// Given are flags box run was given as docker's inspect shows them
	// (HostConfig); nil in a record of an older box.
	Given *GivenFlags `json:"given,omitempty"`
}

// GivenFlags are box run's flags that docker's inspect shows as given.
type GivenFlags struct {
	DNS         []string `json:"dns,omitempty"`
	DNSSearch   []string `json:"dnsSearch,omitempty"`
	DNSOptions  []string `json:"dnsOptions,omitempty"`
	CapAdd      []string `json:"capAdd,omitempty"`
	CapDrop     []string `json:"capDrop,omitempty"`
	GroupAdd    []string `json:"groupAdd,omitempty"`
	Devices     []string `json:"devices,omitempty"`
	Ulimits     []string `json:"ulimits,omitempty"`
	Init        bool     `json:"init,omitempty"`
	IPC         string   `json:"ipc,omitempty"`
	PID         string   `json:"pid,omitempty"`
	UTS         string   `json:"uts,omitempty"`
	Userns      string   `json:"userns,omitempty"`
	Interactive bool     `json:"interactive,omitempty"`
	Attach      []string `json:"attach,omitempty"` // -a's streams, lower case
	Detached    bool     `json:"detached,omitempty"`
}

// StopTimeoutOr is the container's stop timeout, or d when it has none;
// negative means none at all (--stop-timeout -1).
func (ct *Container) StopTimeoutOr(d time.Duration) time.Duration {
	if ct.StopTimeout == nil {
		return d
	}
	return time.Duration(*ct.StopTimeout) * time.Second
}

// StopSig is the signal box stop sends first.
func (ct *Container) StopSig() syscall.Signal {
	if sig, err := ParseSignal(ct.StopSignal); err == nil && ct.StopSignal != "" {
		return sig
	}
	return syscall.SIGTERM
}

// Network is how the container is connected, for box inspect.
type Network struct {
	Mode      string `json:"mode"`                // slirp, none or host
	IPAddress string `json:"ipAddress,omitempty"` // the container's address on the slirp network
	Gateway   string `json:"gateway,omitempty"`   // the netstack: default route and DNS server
	DNS       string `json:"dns,omitempty"`
	HostAlias string `json:"hostAlias,omitempty"` // host.box.internal, with allow_host_loopback
	// ExtraHosts are --add-host's NAME:IP entries of its /etc/hosts.
	ExtraHosts []string `json:"extraHosts,omitempty"`
	// Name is the user-defined network (box network create) the
	// container is on, "" for the default one; NetworkID its id, Aliases
	// --network-alias's names, by which the other members find it too.
	Name      string   `json:"name,omitempty"`
	NetworkID string   `json:"networkId,omitempty"`
	Aliases   []string `json:"aliases,omitempty"`
	// Links are --link's NAME:ALIAS: names by which this container alone
	// finds other containers of its network.
	Links []string `json:"links,omitempty"`
}

// Files in a container's directory besides its record, the log (LogName)
// and init's exec socket (pid1.ExecSocket).
const (
	// StartFile keeps what box start needs to start the container again
	// (package monitor writes and reads it).
	StartFile = "start.json"
	// StopFile marks a container that box stop asked to stop: its monitor
	// does not restart it.
	StopFile = "stop-requested"
)

// Containers is the containers/ directory of a store: one directory per
// container, and names/<name> symlinks whose atomic creation keeps names unique.
type Containers struct {
	Root string
	// Volumes is the store's volumes: with it, removing a --rm container
	// removes its anonymous volumes too, as docker does.
	Volumes volume.Store
}

func (c Containers) dir(id string) string { return filepath.Join(c.Root, id) }

// Dir is the container's directory.
func (c Containers) Dir(id string) string { return c.dir(id) }

// Create makes the container's directory and reserves its name.
func (c Containers) Create(ct *Container) (dir string, err error) {
	if err := os.MkdirAll(filepath.Join(c.Root, "names"), 0o700); err != nil {
		return "", err
	}
	err = os.Symlink(ct.ID, filepath.Join(c.Root, "names", ct.Name))
	// A generated name in use: docker's next tries, a digit appended,
	// then one with the id's start.
	for try := 1; ct.generatedName && errors.Is(err, fs.ErrExist) && try <= 11; try++ {
		ct.Name = retryName(try, ct.ID)
		err = os.Symlink(ct.ID, filepath.Join(c.Root, "names", ct.Name))
	}
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("the container name %q is already in use; remove that container (box rm %s) or choose another --name", ct.Name, ct.Name)
		}
		return "", fmt.Errorf("reserving name: %w", err)
	}
	dir = c.dir(ct.ID)
	if err := os.Mkdir(dir, 0o700); err != nil {
		os.Remove(filepath.Join(c.Root, "names", ct.Name))
		return "", fmt.Errorf("creating container: %w", err)
	}
	if err := c.Save(ct); err != nil {
		return dir, err
	}
	c.Event("create", ct, nil)
	return dir, nil
}

// Event records a container event for box events (package events): the
// container's image, name and labels, and extra.
func (c Containers) Event(action string, ct *Container, extra map[string]string) {
	attrs := events.ContainerAttrs(ct.Image, ct.Name, ct.Labels)
	for k, v := range extra {
		attrs[k] = v
	}
	events.Append(filepath.Dir(c.Root), "container", action, ct.ID, attrs)
}

// ExecEvents records docker's exec_create and exec_start for a box exec
// of cmd in ct, and returns what records its exec_die (events.Exec).
func (c Containers) ExecEvents(ct *Container, cmd []string) (start func(), die func(status int)) {
	return events.Exec(filepath.Dir(c.Root), ct.ID, events.ContainerAttrs(ct.Image, ct.Name, ct.Labels), cmd)
}

// Save writes the record by atomic rename. A monitor saves the record it
// read when the container started: a name box rename gave it since, whose
// link leads to it, is kept.
func (c Containers) Save(ct *Container) error {
	unlock := c.lockRecord(ct.ID)
	defer unlock()
	if rec, err := c.readRecord(ct.ID); err == nil {
		if rec.Name != ct.Name && c.nameOf(rec.Name) == ct.ID {
			ct.Name = rec.Name
		}
		// box update's: a monitor's copy from before it is not put back.
		ct.Limits, ct.Cpuset = rec.Limits, rec.Cpuset
	}
	return c.writeRecord(ct)
}

// UpdateLimits sets the container's limits (box update): in its record,
// for its next starts, and in its cgroup while it runs in one.
func (c Containers) UpdateLimits(ct *Container, l *cgroup.Limits) error {
	rec, err := c.update(ct.ID, func(rec *Container) bool { rec.Limits = l; return true })
	if err != nil {
		return err
	}
	ct.Limits = l
	if ct.Status == "running" && rec.Cgroup != "" {
		lim := cgroup.Limits{}
		if l != nil {
			lim = *l
		}
		return cgroup.Apply(rec.Cgroup, lim)
	}
	return nil
}

// UpdateCpuset sets the container's --cpuset-cpus and --cpuset-mems (box
// update): in its record, for its next starts, and its CPUs at once while
// it runs (Repin).
func (c Containers) UpdateCpuset(ct *Container, cs *Cpuset) error {
	rec, err := c.update(ct.ID, func(rec *Container) bool { rec.Cpuset = cs; return true })
	if err != nil {
		return err
	}
	ct.Cpuset = cs
	return rec.Repin(cs)
}

// update changes the record of container id with change, under its lock,
// and returns it as it is then. change says whether it changed anything:
// if not, nothing is written.
func (c Containers) update(id string, change func(*Container) bool) (*Container, error) {
	unlock := c.lockRecord(id)
	defer unlock()
	rec, err := c.readRecord(id)
	if err != nil {
		return nil, err
	}
	if !change(rec) {
		return rec, nil
	}
	return rec, c.writeRecord(rec)
}

// List reads every container record, reconciled with reality: a "running"
// container whose monitor is gone (killed, or a reboot since) shows exited.
func (c Containers) List() ([]*Container, error) {
	ents, err := os.ReadDir(c.Root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Container
	for _, e := range ents {
		if !e.IsDir() || e.Name() == "names" || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		ct, err := c.load(e.Name())
		if err != nil {
			continue // a container being created or removed right now
		}
		out = append(out, ct)
	}
	return out, nil
}

// readRecord reads a container's record as it is on disk.
func (c Containers) readRecord(id string) (*Container, error) {
	b, err := os.ReadFile(filepath.Join(c.dir(id), "container.json"))
	if err != nil {
		return nil, err
	}
	var ct Container
	if err := json.Unmarshal(b, &ct); err != nil {
		return nil, err
	}
	return &ct, nil
}

// writeRecord replaces a container's record with ct, atomically; the
// callers hold lockRecord.
func (c Containers) writeRecord(ct *Container) error {
	b, err := json.MarshalIndent(ct, "", "  ")
	if err != nil {
		return err
	}
	return replace.File(filepath.Join(c.dir(ct.ID), "container.json"), b)
}

// lockRecord serialises the read-modify-writes of a container's record
// between processes (box rename and the container's monitor), with a
// lock on its directory; without one (a directory going), it does nothing.
func (c Containers) lockRecord(id string) (unlock func()) {
	fd, err := unix.Open(c.dir(id), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return func() {}
	}
	for unix.Flock(fd, unix.LOCK_EX) == unix.EINTR {
	}
	return func() { unix.Close(fd) }
}

// nameOf is the id a name leads to, "" if none.
func (c Containers) nameOf(name string) string {
	if name == "" {
		return ""
	}
	id, _ := os.Readlink(filepath.Join(c.Root, "names", name))
	return id
}

// Rename gives a container a new name, as docker rename, running or not:
// the new name is reserved first (names stay unique), then the record
// says it, then the old name goes. A running container's monitor keeps
// it (Save).
func (c Containers) Rename(ct *Container, name string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	if name == ct.Name {
		return fmt.Errorf("container %s is already named %s", ct.Name, name)
	}
	unlock := c.lockRecord(ct.ID)
	defer unlock()
	link := filepath.Join(c.Root, "names", name)
	if err := os.Symlink(ct.ID, link); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("the container name %q is already in use", name)
		}
		return fmt.Errorf("reserving name: %w", err)
	}
	rec, err := c.readRecord(ct.ID)
	if err == nil {
		old := rec.Name
		rec.Name = name
		if err = c.writeRecord(rec); err == nil {
			removeName(filepath.Join(c.Root, "names", old), ct.ID)
			ct.Name = name
			c.Event("rename", ct, map[string]string{"oldName": "/" + old}) // docker's names have a /
			return nil
		}
	}
	os.Remove(link)
	return fmt.Errorf("renaming container %s: %w", ct.Name, err)
}

// recordKilled records, once, the end of a container whose init and
// monitor were killed (SIGKILL, a job's end) before either recorded it:
// exited, 137, finished when box first saw it so. It returns the record
// as it is then: read again under the lock, it may have been recorded
// meanwhile, or a new run started, and then nothing is written.
func (c Containers) recordKilled(id string) (*Container, error) {
	rec, err := c.update(id, func(rec *Container) bool {
		if rec.Status != "running" || proc.Alive(rec.Pid, rec.PidStart, rec.BootID) || proc.Alive(rec.Monitor, rec.MonStart, rec.BootID) {
			return false
		}
		rec.Status, rec.ExitCode, rec.Finished, rec.Restarting = "exited", 137, time.Now().UTC(), false
		return true
	})
	if rec != nil {
		// The end as seen now even if it could not be written: the next
		// look records it.
		err = nil
	}
	return rec, err
}

func (c Containers) load(id string) (*Container, error) {
	rec, err := c.readRecord(id)
	if err != nil {
		return nil, err
	}
	ct := *rec
	// Running while its init runs, or while its monitor, which records the
	// exit, still does.
	if ct.Status == "running" && !proc.Alive(ct.Pid, ct.PidStart, ct.BootID) && !proc.Alive(ct.Monitor, ct.MonStart, ct.BootID) {
		if cur, err := c.recordKilled(id); err == nil {
			ct = *cur // as recorded now: its end, or a run started since it was read
		} else {
			ct.Status, ct.ExitCode = "exited", 137
		}
	}
	if ct.Status == "running" {
		if _, err := os.Lstat(filepath.Join(c.dir(id), PausedFile)); err == nil {
			ct.Paused = true
		}
		if ct.Health != nil {
			if h := ReadHealth(c.dir(id)); h != nil {
				ct.HealthStatus = h.Status
			}
		}
	}
	return &ct, nil
}

// Lookup finds a container by name (docker's "/name" too), full id or
// unique id prefix.
func (c Containers) Lookup(nameOrID string) (*Container, error) {
	nameOrID = strings.TrimPrefix(nameOrID, "/")
	if id, err := os.Readlink(filepath.Join(c.Root, "names", nameOrID)); err == nil && ValidName(nameOrID) == nil {
		return c.load(id)
	}
	all, err := c.List()
	if err != nil {
		return nil, err
	}
	var found *Container
	for _, ct := range all {
		if nameOrID != "" && strings.HasPrefix(ct.ID, nameOrID) { // any unique prefix, as docker's
			if found != nil {
				return nil, fmt.Errorf("multiple IDs found with provided prefix: %s", nameOrID)
			}
			found = ct
		}
	}
	if found == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoContainer, nameOrID)
	}
	return found, nil
}

// ErrNoContainer is returned for an unknown container name or id.
var ErrNoContainer = errors.New("no such container")

// Remove deletes a container's directory (through removeAll, which can
// delete files of subordinate ids) and then its name.
func (c Containers) Remove(ct *Container, removeAll func(...string) error) error {
	dir := c.dir(ct.ID)
	// Renamed first so a half-removed container never lists.
	trash := filepath.Join(c.Root, ".trash-"+ct.ID)
	if err := os.Rename(dir, trash); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing container %s: %w", ct.Name, err)
	}
	testkill.Point("rm-renamed")
	if ct.Name != "" {
		// Only if it is still this container's: after a removal cut short
		// and a check's repair, a new container may have it.
		removeName(filepath.Join(c.Root, "names", ct.Name), ct.ID)
	}
	// overlayfs leaves work/work, and for a volatile upper
	// incompat/volatile (holding a "dirty" file), with mode 0: open them
	// up front so the removal is one pass rather than a failed pass, a
	// chmod walk and another.
	work := filepath.Join(trash, "work")
	for _, d := range []string{"work", "incompat", "volatile"} {
		work = filepath.Join(work, d)
		os.Chmod(work, 0o700)
	}
	if err := removeAll(trash); err != nil {
		return fmt.Errorf("removing container %s: %w", ct.Name, err)
	}
	c.Event("destroy", ct, nil)
	if n := ct.Network; n != nil && n.Name != "" {
		c.networks().Release(n.Name, ct.ID, n.IPAddress)
	}
	removeCgroup(ct) // left by a monitor that was killed; else gone already
	if ct.Remove {
		return c.RemoveAnonymousVolumes(ct, removeAll)
	}
	return nil
}

// MonitorAlive tells whether the process that monitors the container (a
// detached container's monitor, or the box run in the foreground) still
// runs: between two runs of a restart policy, or while it records an exit.
func (ct *Container) MonitorAlive() bool { return proc.Alive(ct.Monitor, ct.MonStart, ct.BootID) }

// InitGone waits up to d for the container's init to have ended, not
// only to be ending: an init killed while the kernel still kills and
// reaps the rest of its PID namespace counts as not alive already, but
// its mounts and cgroup are in use until it is a zombie.
func (ct *Container) InitGone(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if ct.Pid <= 0 || ct.BootID != BootID() || StartTime(ct.Pid) != ct.PidStart {
			return true
		}
		if s := proc.State(ct.Pid); s == "Z" || s == "X" {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// IsRestarting tells whether the container is between two runs of its
// --restart policy: docker's "restarting" state, which counts as running
// for box ps.
func (ct *Container) IsRestarting() bool {
	return ct.Restarting && ct.Status == "exited" && ct.MonitorAlive()
}

// SetRestarting marks the record of container id as between two runs
// (on) or not, for its monitor.
func (c Containers) SetRestarting(id string, on bool) {
	c.update(id, func(ct *Container) bool {
		changed := ct.Restarting != on
		ct.Restarting = on
		return changed
	})
}

// BootID identifies this boot, so records from before a reboot are stale
// (proc.BootID).
func BootID() string { return proc.BootID() }

// StartTime is when pid started (proc.StartTime).
func StartTime(pid int) uint64 { return proc.StartTime(pid) }

// Orphans are the --rm containers whose box or monitor was killed before it
// could remove them: recorded as running with every process gone, or as
// exited but still there, or as created by a box that died before the
// container started. One whose box still runs (creating, removing) is
// not an orphan.
func (c Containers) Orphans() ([]*Container, error) {
	all, err := c.List()
	if err != nil {
		return nil, err
	}
	var out []*Container
	for _, ct := range all {
		// A --rm container that exited, or that its box made (its pid is
		// in the record; box create's has none) but never started.
		if ct.Remove && (ct.Status == "exited" || ct.Status == "created" && ct.Monitor > 0) && !ct.MonitorAlive() {
			out = append(out, ct)
		}
	}
	return out, nil
}

// StartedAt is when the container last started running: Started, or, for
// a record that lacks it, when its init started, from /proc/PID/stat's
// start time (clock ticks after boot) and the boot's time; zero if
// neither is known.
func (ct *Container) StartedAt() time.Time {
	if !ct.Started.IsZero() || ct.PidStart == 0 || ct.BootID == "" || ct.BootID != BootID() {
		return ct.Started
	}
	boot := bootTime()
	if boot.IsZero() {
		return time.Time{}
	}
	// USER_HZ, which proc(5) counts start times in, is 100 on every
	// architecture Go supports.
	const hz = 100
	t := boot.Add(time.Duration(ct.PidStart) * time.Second / hz).UTC()
	if t.Before(ct.Created) {
		t = ct.Created // the two clocks differ by a tick or so
	}
	return t
}

// bootTime is when the system booted, to a hundredth of a second: now
// less /proc/uptime (proc(5)), the clock process start times count on
// (/proc/stat's btime has whole seconds only).
func bootTime() time.Time {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return time.Time{}
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return time.Time{}
	}
	up, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return time.Time{}
	}
	return time.Now().Add(-time.Duration(up * float64(time.Second)))
}

// WrittenBytes is how many bytes of files a container wrote: its
// writable layer's regular files (docker's SizeRw), as far as the caller
// can read that directory (its own files in it, whatever their owner
// inside, and not below directories another id keeps closed).
func WrittenBytes(dir string) int64 {
	var n int64
	filepath.WalkDir(filepath.Join(dir, "upper"), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
