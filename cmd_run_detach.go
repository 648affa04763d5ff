package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/box-run/box/image"
	"github.com/box-run/box/run"
	"github.com/box-run/box/slirp"
	"github.com/box-run/box/userns"
)

// A detached container (-d) is watched by a monitor: a copy of box in a
// session of its own, with no terminal, that outlives the CLI. The CLI hands
// it everything decided so far (monitorConfig, over a pipe) and waits only
// until it reports the container started, or why it could not.

// monitorConfig is what the CLI hands the monitor.
type monitorConfig struct {
	Spec      run.Spec      `json:"spec"`
	Container run.Container `json:"container"`
	StoreRoot string        `json:"storeRoot"`
	Layers    []string      `json:"layers"`
	Remove    bool          `json:"remove"`
	Net       slirp.Config  `json:"net"`
	Restart   string        `json:"restart,omitempty"`  // --restart policy
	Existing  bool          `json:"existing,omitempty"` // box start of a container made before
}

// startFile keeps a container's monitorConfig in its directory for box start.
const startFile = "start.json"

// persist writes what box start needs into a new container's directory.
func (mc *monitorConfig) persist(dir string) error {
	c := *mc
	c.Net.Logger, c.Net.UDPPorts = nil, nil
	b, err := json.Marshal(&c)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, startFile), b, 0o600)
}

// restartPolicy parses --restart: no, always, on-failure[:N].
func restartPolicy(s string) (mode string, max int, err error) {
	mode, n, hasN := strings.Cut(s, ":")
	switch mode {
	case "", "no", "always":
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
	return "", 0, fmt.Errorf("invalid --restart %q: want no, always or on-failure[:N]", s)
}

// stopFile marks a container that box stop asked to stop: its monitor does
// not restart it.
const stopFile = "stop-requested"

// detach starts the monitor and returns once the container runs.
func detach(mc *monitorConfig) error {
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer cfgR.Close()
	defer cfgW.Close()
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer statusR.Close()
	defer statusW.Close()
	cmd := run.Command("monitor")
	cmd.ExtraFiles = []*os.File{cfgR, statusW}
	// No terminal, no stdio of the caller's: the monitor survives the CLI
	// and the caller's session (a closed terminal sends it no SIGHUP).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = "/" // keep no directory of the caller's busy
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the container's monitor: %w", err)
	}
	cfgR.Close()
	statusW.Close()
	mc.Net.Logger = nil
	if err := json.NewEncoder(cfgW).Encode(mc); err != nil {
		return err
	}
	cfgW.Close()
	line, _ := bufio.NewReader(statusR).ReadString('\n')
	cmd.Process.Release()
	line = strings.TrimSpace(line)
	if line == "ok" {
		return nil
	}
	code, msg, ok := strings.Cut(line, " ")
	status, err := strconv.Atoi(code)
	if !ok || err != nil {
		return errors.New("the container's monitor died before the container started")
	}
	return withStatus(status, errors.New(msg))
}

// stageMonitor is the monitor of a detached container.
func stageMonitor() error {
	var mc monitorConfig
	if err := json.NewDecoder(os.NewFile(3, "config")).Decode(&mc); err != nil {
		return fmt.Errorf("reading the monitor's config: %w", err)
	}
	status := os.NewFile(4, "status")
	report := func(line string) {
		if status != nil {
			io.WriteString(status, line+"\n")
			status.Close()
			status = nil
		}
	}
	fail := func(code int, err error) error {
		report(fmt.Sprintf("%d %v", code, err))
		return err
	}
	st, err := image.Open(image.Options{Root: mc.StoreRoot})
	if err != nil {
		return fail(125, err)
	}
	release, err := st.HoldLayers(mc.Layers)
	if err != nil {
		return fail(125, err)
	}
	defer release()
	m, _, err := userns.Detect()
	if err != nil {
		return fail(125, err)
	}
	log := slog.New(slog.DiscardHandler)
	cs := run.Containers{Root: filepath.Join(mc.StoreRoot, "containers")}
	mode, max, err := restartPolicy(mc.Restart)
	if err != nil {
		return fail(125, err)
	}
	existing := mc.Existing
	for restarts := 0; ; restarts++ {
		spec, ct := mc.Spec, mc.Container // Run fills in both
		code, err := run.Run(run.Options{
			Spec:       &spec,
			Container:  &ct,
			Containers: cs,
			Mapping:    m,
			Remove:     mc.Remove,
			RemoveAll:  remover(m),
			Log:        log,
			Warn:       io.Discard,
			Net:        mc.Net,
			Detached:   true,
			Started:    func() { report("ok") },
			Existing:   existing,
			Persist:    mc.persist,
		})
		if err != nil {
			return fail(code, err)
		}
		mc.Container = ct
		existing = true
		if _, err := os.Stat(filepath.Join(cs.Dir(ct.ID), stopFile)); err == nil || mc.Remove {
			return nil
		}
		switch {
		case mode == "always":
		case mode == "on-failure" && code != 0 && (max == 0 || restarts < max):
		default:
			return nil
		}
	}
}
