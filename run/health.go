package run

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/box-run/box/internal/replace"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/box-run/box/run/pid1"
	"github.com/box-run/box/run/proto"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// HealthFile, in a container's directory, is its health (HealthState),
// written by whoever runs it: its monitor, or box run in the foreground.
const HealthFile = "health.json"

// HealthCheck is a container's health check, docker's HEALTHCHECK: the
// image's, with box run's --health-* flags over it field by field, and
// docker's defaults for what neither sets.
type HealthCheck struct {
	Test          []string      `json:"test"` // "CMD", args… or "CMD-SHELL", command
	Interval      time.Duration `json:"interval"`
	Timeout       time.Duration `json:"timeout"`
	StartPeriod   time.Duration `json:"startPeriod,omitempty"`
	StartInterval time.Duration `json:"startInterval,omitempty"`
	Retries       int           `json:"retries"`
}

// HealthFlags are box run's --health-* flags ("" or nil: not given).
type HealthFlags struct {
	Cmd                                           *string
	Interval, Timeout, StartPeriod, StartInterval string
	Retries                                       *int
	None                                          bool // --no-healthcheck
}

// docker's defaults.
const (
	defaultHealthInterval      = 30 * time.Second
	defaultHealthTimeout       = 30 * time.Second
	defaultHealthStartInterval = 5 * time.Second
	defaultHealthRetries       = 3
	maxHealthOutput            = 4096
	healthLogLen               = 5
)

// ResolveHealth merges the image's health check and the flags as docker
// does; nil for none (none in either, NONE, or --no-healthcheck).
func ResolveHealth(img *v1.HealthConfig, f HealthFlags) (*HealthCheck, error) {
	given := f.Cmd != nil || f.Interval != "" || f.Timeout != "" || f.StartPeriod != "" || f.StartInterval != "" || f.Retries != nil
	if f.None {
		if given {
			return nil, errors.New("--no-healthcheck conflicts with --health-* options")
		}
		return nil, nil
	}
	var hc HealthCheck
	if img != nil {
		hc = HealthCheck{Test: img.Test, Interval: img.Interval, Timeout: img.Timeout, StartPeriod: img.StartPeriod, Retries: img.Retries}
	}
	if f.Cmd != nil {
		hc.Test = []string{"CMD-SHELL", *f.Cmd}
		if *f.Cmd == "" {
			hc.Test = nil
		}
	}
	for _, d := range []struct {
		flag, v string
		to      *time.Duration
	}{
		{"--health-interval", f.Interval, &hc.Interval},
		{"--health-timeout", f.Timeout, &hc.Timeout},
		{"--health-start-period", f.StartPeriod, &hc.StartPeriod},
		{"--health-start-interval", f.StartInterval, &hc.StartInterval},
	} {
		if d.v == "" {
			continue
		}
		v, err := time.ParseDuration(d.v)
		if err != nil {
			return nil, fmt.Errorf("%s %q: want a duration such as 30s or 1m30s", d.flag, d.v)
		}
		if v != 0 && v < time.Millisecond {
			return nil, fmt.Errorf("%s cannot be less than 1ms", d.flag)
		}
		*d.to = v
	}
	if f.Retries != nil {
		if *f.Retries < 0 {
			return nil, errors.New("--health-retries cannot be negative")
		}
		hc.Retries = *f.Retries
	}
	if len(hc.Test) == 0 || hc.Test[0] == "NONE" {
		return nil, nil
	}
	switch hc.Test[0] {
	case "CMD", "CMD-SHELL":
		if len(hc.Test) < 2 || hc.Test[0] == "CMD-SHELL" && len(hc.Test) != 2 {
			return nil, fmt.Errorf("health check %q: no command", hc.Test)
		}
	default:
		return nil, fmt.Errorf("health check %q: want CMD, CMD-SHELL or NONE first", hc.Test)
	}
	if hc.Interval == 0 {
		hc.Interval = defaultHealthInterval
	}
	if hc.Timeout == 0 {
		hc.Timeout = defaultHealthTimeout
	}
	if hc.StartInterval == 0 {
		hc.StartInterval = defaultHealthStartInterval
	}
	if hc.Retries == 0 {
		hc.Retries = defaultHealthRetries
	}
	return &hc, nil
}

// Args is the command a probe runs: CMD's arguments, or CMD-SHELL's
// command under /bin/sh -c, as docker runs it on Linux.
func (hc *HealthCheck) Args() []string {
	if hc.Test[0] == "CMD-SHELL" {
		return []string{"/bin/sh", "-c", hc.Test[1]}
	}
	return hc.Test[1:]
}

// Config is the check as an image config's Healthcheck (box inspect's
// Config.Healthcheck).
func (hc *HealthCheck) Config() *v1.HealthConfig {
	return &v1.HealthConfig{Test: hc.Test, Interval: hc.Interval, Timeout: hc.Timeout, StartPeriod: hc.StartPeriod, Retries: hc.Retries}
}

// HealthState is a container's health as docker's State.Health.
type HealthState struct {
	Status        string         // starting, healthy or unhealthy
	FailingStreak int            // consecutive failed probes
	Log           []HealthResult // the last five probes, oldest first
}

// HealthResult is one probe.
type HealthResult struct {
	Start, End time.Time
	ExitCode   int // 0 healthy; -1 when it timed out or could not run
	Output     string
}

// ReadHealth reads the container's health; nil when it has none yet.
func ReadHealth(dir string) *HealthState {
	b, err := os.ReadFile(filepath.Join(dir, HealthFile))
	if err != nil {
		return nil
	}
	var h HealthState
	if json.Unmarshal(b, &h) != nil {
		return nil
	}
	return &h
}

func writeHealth(dir string, h *HealthState) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	return replace.File(filepath.Join(dir, HealthFile), b)
}

// watchHealth probes the container as its health check says until it
// exits (r.done), keeping HealthFile: "starting", then "healthy" after a
// probe succeeds and "unhealthy" after Retries fail in a row (failures in
// the start period do not count). A probe runs as box exec does, through
// init's socket (the caller made sure init stays); one that outlives its
// timeout is killed and counts as failed.
func (r *runner) watchHealth() {
	hc, dir := r.Container.Health, r.Spec.Dir
	if hc == nil || !r.Spec.Exec {
		return
	}
	h := &HealthState{Status: "starting", Log: []HealthResult{}}
	if err := writeHealth(dir, h); err != nil {
		r.Log.Debug("no health file", "err", err)
		return
	}
	done := r.done
	var busy atomic.Bool
	go func() {
		began := time.Now()
		inStart := func() bool { return hc.StartPeriod > 0 && time.Since(began) < hc.StartPeriod }
		for {
			wait := hc.Interval
			if inStart() && h.Status == "starting" {
				wait = min(hc.StartInterval, hc.Interval)
			}
			select {
			case <-done:
				return
			case <-time.After(wait):
			}
			if _, err := os.Lstat(filepath.Join(dir, PausedFile)); err == nil {
				continue // box pause's: a frozen init would not answer
			}
			if busy.Load() {
				continue // an earlier probe's init has not answered yet
			}
			res, ok := probe(dir, hc, done, &busy)
			if !ok {
				continue // init not serving yet, or gone
			}
			was := h.Status
			switch {
			case res.ExitCode == 0:
				h.Status, h.FailingStreak = "healthy", 0
			case inStart() && h.Status == "starting":
				// docker's start period: a failure does not count yet.
			default:
				h.FailingStreak++
				if h.FailingStreak >= hc.Retries {
					h.Status = "unhealthy"
				}
			}
			h.Log = append(h.Log, res)
			if len(h.Log) > healthLogLen {
				h.Log = h.Log[len(h.Log)-healthLogLen:]
			}
			select {
			case <-done:
				return // the container is gone: its last state stays
			default:
			}
			if h.Status != was && h.Status != "starting" {
				r.Containers.Event("health_status: "+h.Status, r.Container, nil)
			}
			if err := writeHealth(dir, h); err != nil {
				r.Log.Debug("writing the health file", "err", err)
			}
		}
	}()
}

// probe runs the check once; ok false when it could not reach init.
// busy is set until init has answered, which may be after probe returns.
func probe(dir string, hc *HealthCheck, done <-chan struct{}, busy *atomic.Bool) (HealthResult, bool) {
	res := HealthResult{Start: time.Now().UTC()}
	null, err := os.Open(os.DevNull)
	if err != nil {
		return res, false
	}
	defer null.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return res, false
	}
	out := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(pr, maxHealthOutput))
		io.Copy(io.Discard, pr) // the rest, so the probe never blocks
		pr.Close()
		out <- string(b)
	}()
	type reply struct {
		status int
		err    error
	}
	replied := make(chan reply, 1)
	sigs := make(chan syscall.Signal, 1)
	busy.Store(true)
	go func() {
		defer busy.Store(false)
		status, err := pid1.Exec(dir, pid1.ExecOptions{
			Request: proto.ExecRequest{Args: hc.Args()},
			Stdin:   null, Stdout: pw, Stderr: pw,
			Signals: sigs,
		})
		pw.Close()
		replied <- reply{status, err}
	}()
	var rep reply
	timedOut := false
	select {
	case rep = <-replied:
	case <-time.After(hc.Timeout):
		timedOut = true
		sigs <- syscall.SIGKILL
		select {
		case rep = <-replied:
		case <-time.After(5 * time.Second):
		}
	case <-done:
		sigs <- syscall.SIGKILL
		return res, false
	}
	res.End = time.Now().UTC()
	select {
	case res.Output = <-out:
	case <-time.After(time.Second): // a process the probe left holds the pipe
	}
	switch {
	case timedOut:
		res.ExitCode = -1
		res.Output = "Health check exceeded timeout (" + hc.Timeout.String() + ")"
	case rep.err != nil && (errors.Is(rep.err, syscall.ENOENT) || errors.Is(rep.err, syscall.ECONNREFUSED)):
		return res, false // init not reached (not serving yet, or gone)
	case rep.err != nil:
		res.ExitCode, res.Output = -1, rep.err.Error()
	default:
		res.ExitCode = rep.status
	}
	return res, true
}
