// Package monitor keeps a detached container (box run -d, box start): a copy
// of box in a session of its own, with no terminal, that outlives the CLI,
// runs the container through package run, and applies its restart policy.
// The CLI hands it everything decided so far (Config, over a pipe) and
// waits only until it reports the container started, or why it could not.
//
// It owns the monitor's process, its start-up handshake and start.json (what
// box start needs to start a container again); package run owns the
// container itself.
package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/box-run/box/internal/replace"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/box-run/box/image"
	"github.com/box-run/box/internal/testkill"
	"github.com/box-run/box/run"
	"github.com/box-run/box/run/proto"
	"github.com/box-run/box/slirp"
	"github.com/box-run/box/stage"
	"github.com/box-run/box/volume"
)

// Config is what the CLI hands the monitor, and what start.json keeps.
type Config struct {
	Spec      proto.Spec    `json:"spec"`
	Container run.Container `json:"container"`
	StoreRoot string        `json:"storeRoot"`
	Layers    []string      `json:"layers"`
	// LayerStore is the read-only shared store the layers are in; "" is
	// the container's own store.
	LayerStore string       `json:"layerStore,omitempty"`
	Remove     bool         `json:"remove"`
	Net        slirp.Config `json:"net"`
	Restart    string       `json:"restart,omitempty"`  // --restart policy
	Existing   bool         `json:"existing,omitempty"` // box start of a container made before
	// Job is the Slurm job step the container was started in: it ends
	// with the job (see run.Anchor). Set by Detach, for each start.
	Job *run.Anchor `json:"job,omitempty"`
}

// Persist writes what box start needs into a new container's directory.
func (mc *Config) Persist(dir string) error {
	c := *mc
	c.Net.Logger, c.Net.UDPPorts = nil, nil
	c.Job = nil // a later box start runs in a job of its own, or none
	b, err := json.Marshal(&c)
	if err != nil {
		return err
	}
	// Replaced whole: box update rewrites it while box start or a
	// monitor may read it.
	return replace.File(filepath.Join(dir, run.StartFile), b)
}

// RestartPolicy parses --restart: no, always, unless-stopped,
// on-failure[:N]. With no daemon to start containers when the machine
// boots, unless-stopped is always: neither restarts a container box stop
// stopped.
func RestartPolicy(s string) (mode string, max int, err error) {
	mode, n, hasN := strings.Cut(s, ":")
	switch mode {
	case "", "no", "always", "unless-stopped":
		if hasN {
			return "", 0, fmt.Errorf("invalid --restart %q: only on-failure takes a count", s)
		}
		return mode, 0, nil
	case "on-failure":
		if !hasN {
			return mode, 0, nil
		}
		max, err := strconv.Atoi(n)
		if err != nil || max < 0 {
			return "", 0, fmt.Errorf("invalid --restart %q: the count must be a number", s)
		}
		return mode, max, nil
	}
	return "", 0, fmt.Errorf("invalid --restart %q: want no, always, unless-stopped or on-failure[:N]", s)
}

// Detach starts the monitor and returns once the container runs; when it
// could not start, the error comes with the exit status box should end
// with.
func Detach(mc *Config) (status int, err error) {
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return 125, err
	}
	defer cfgR.Close()
	defer cfgW.Close()
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return 125, err
	}
	defer statusR.Close()
	defer statusW.Close()
	mc.Job = run.JobAnchor()
	cmd := run.Command("monitor")
	cmd.ExtraFiles = []*os.File{cfgR, statusW}
	// No terminal, no stdio of the caller's: the monitor survives the CLI
	// and the caller's session (a closed terminal sends it no SIGHUP).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = "/" // keep no directory of the caller's busy
	if err := cmd.Start(); err != nil {
		return 125, fmt.Errorf("starting the container's monitor: %w", err)
	}
	cfgR.Close()
	statusW.Close()
	mc.Net.Logger = nil
	if err := json.NewEncoder(cfgW).Encode(mc); err != nil {
		return 125, err
	}
	cfgW.Close()
	testkill.Point("run-monitor-started") // the monitor goes on alone
	st, err := proto.ReadMonitorStatus(statusR)
	cmd.Process.Release()
	if err != nil {
		return 125, err
	}
	if st.Err != "" {
		return st.Status, errors.New(st.Err)
	}
	return 0, nil
}

// Serve is the monitor stage: the monitor of a detached container.
func Serve([]string) error {
	var mc Config
	if err := json.NewDecoder(os.NewFile(3, "config")).Decode(&mc); err != nil {
		return fmt.Errorf("reading the monitor's config: %w", err)
	}
	status := os.NewFile(4, "status")
	report := func(s proto.MonitorStatus) {
		if status != nil {
			proto.WriteMonitorStatus(status, s)
			status.Close()
			status = nil
		}
	}
	fail := func(code int, err error) error {
		report(proto.MonitorStatus{Status: code, Err: err.Error()})
		return err
	}
	release, m, err := mc.hold()
	if err != nil {
		return fail(125, err)
	}
	defer release()
	log := slog.New(slog.DiscardHandler)
	cs := run.Containers{Root: image.ContainersDir(mc.StoreRoot), Volumes: volume.Store{Dir: image.VolumesDir(mc.StoreRoot)}}
	mode, max, err := RestartPolicy(mc.Restart)
	if err != nil {
		return fail(125, err)
	}
	existing := mc.Existing
	var delay time.Duration
	for restarts := 0; ; restarts++ {
		spec, ct := mc.Spec, mc.Container // Run fills in both
		ct.RestartCount = restarts
		began := time.Now()
		code, err := run.Run(run.Options{
			Spec:       &spec,
			Container:  &ct,
			Containers: cs,
			Mapping:    m,
			HoldStdin:  spec.OpenStdin, // -d -i, box create -i: nobody attaches
			Remove:     mc.Remove,
			RemoveAll:  stage.Remover(m),
			Log:        log,
			Warn:       io.Discard,
			Net:        mc.Net,
			Detached:   true,
			Started:    func() { report(proto.MonitorStatus{}) },
			Existing:   existing,
			Persist:    mc.Persist,
			Anchors:    run.Anchors(mc.Job),
		})
		if err != nil {
			return fail(code, err)
		}
		mc.Container = ct
		existing = true
		if stopped(cs, ct.ID) || mc.Remove {
			return nil
		}
		// box update may have changed the policy and the limits since.
		if cur, err := ReadConfig(cs.Dir(ct.ID)); err == nil && cur.Restart != mc.Restart {
			if m, n, err := RestartPolicy(cur.Restart); err == nil {
				mc.Restart, mode, max = cur.Restart, m, n
			}
		}
		if rec, err := cs.Lookup(ct.ID); err == nil {
			mc.Container.Limits, mc.Container.Cpuset = rec.Limits, rec.Cpuset
		}
		switch {
		case mode == "always" || mode == "unless-stopped":
		case mode == "on-failure" && code != 0 && (max == 0 || restarts < max):
		default:
			return nil
		}
		// docker's delay: 100 ms before the first restart, doubling up
		// to a minute, back to 100 ms after a run of 10 s or more; a
		// container that fails at once must not restart in a tight loop.
		if time.Since(began) >= 10*time.Second {
			delay = 0
		}
		delay = min(2*delay, time.Minute)
		if delay == 0 {
			delay = restartDelay
		}
		// docker's "restarting" until the next run starts (run.Run's
		// record of it has Restarting false).
		cs.SetRestarting(ct.ID, true)
		for end := time.Now().Add(delay); ; time.Sleep(min(50*time.Millisecond, time.Until(end))) {
			if stopped(cs, ct.ID) {
				cs.SetRestarting(ct.ID, false)
				return nil
			}
			if !time.Now().Before(end) {
				break
			}
		}
	}
}

// restartDelay is the first restart's delay (docker's).
const restartDelay = 100 * time.Millisecond

// stopped reports whether the container is not to be restarted: box stop,
// box kill (with SIGKILL or its stop signal) or box rm -f marked it, or it
// was removed.
func stopped(cs run.Containers, id string) bool {
	dir := cs.Dir(id)
	if _, err := os.Stat(filepath.Join(dir, run.StopFile)); err == nil {
		return true
	}
	_, err := os.Stat(dir)
	return err != nil
}

// Load reads what a container was created with, for box start, and clears
// a stop request left from before.
func Load(cs run.Containers, ct *run.Container) (*Config, error) {
	dir := cs.Dir(ct.ID)
	mc, err := ReadConfig(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("container %s was made by an older box and cannot be started again", ct.Name)
	}
	if err != nil {
		return nil, err
	}
	os.Remove(filepath.Join(dir, run.StopFile))
	mc.Container = *ct
	mc.Existing = true
	return mc, nil
}

// ReadConfig reads start.json from a container's directory, changing
// nothing (box inspect). A container run in the foreground with --rm has
// none: the error is then fs.ErrNotExist.
func ReadConfig(dir string) (*Config, error) {
	b, err := os.ReadFile(filepath.Join(dir, run.StartFile))
	if err != nil {
		return nil, err
	}
	var mc Config
	if err := json.Unmarshal(b, &mc); err != nil {
		return nil, fmt.Errorf("reading %s: %w", run.StartFile, err)
	}
	return &mc, nil
}

// Start starts a stopped container again in the background, under a new
// monitor; a running one is left as it is (as docker does).
func Start(cs run.Containers, ct *run.Container) (status int, err error) {
	if ct.Status == "running" {
		return 0, nil
	}
	mc, err := Load(cs, ct)
	if err != nil {
		return 1, err
	}
	mc.Spec.Exec = true // started in the background, so box exec can reach it
	return Detach(mc)
}

// Create makes a container that nothing runs yet (box create): its
// directory, its record as "created" and start.json, which box start
// (Start, Attach) reads.
func Create(cs run.Containers, mc *Config) error {
	dir, err := cs.Create(&mc.Container)
	if err != nil {
		return err
	}
	if err := mc.Persist(dir); err != nil {
		// Only box's own files are in it yet.
		cs.Remove(&mc.Container, func(paths ...string) error {
			for _, p := range paths {
				if err := os.RemoveAll(p); err != nil {
					return err
				}
			}
			return nil
		})
		return err
	}
	return nil
}
