package monitor

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/box-run/box/image"
	"github.com/box-run/box/run"
	"github.com/box-run/box/stage"
	"github.com/box-run/box/userns"
)

// Attach starts a stopped container again in the foreground (box start -a)
// as box run does: its output here, stdin with stdin, a terminal if it was
// made with -t, signals forwarded, and its exit status. No monitor: the
// caller's box is one.
func Attach(cs run.Containers, ct *run.Container, stdin bool, log *slog.Logger) (int, error) {
	mc, err := Load(cs, ct)
	if err != nil {
		return 1, err
	}
	if mode, _, _ := RestartPolicy(mc.Restart); mode != "no" && mode != "" {
		// Restarts are a monitor's job; in the foreground nobody would
		// keep the policy.
		return 1, fmt.Errorf("container %s has --restart=%s: start it without -a and follow it with box logs -f", ct.Name, mc.Restart)
	}
	// docker start -i attaches stdin only to a container made with -i.
	stdin = stdin && mc.Spec.OpenStdin
	release, m, err := mc.hold()
	if err != nil {
		return 125, err
	}
	defer release()
	mc.Spec.Exec = true // box exec reaches it as any started container
	job := run.JobAnchor()
	return run.Run(run.Options{
		Spec:       &mc.Spec,
		Container:  ct,
		Containers: cs,
		Mapping:    m,
		Stdin:      stdin,
		// box create -i, started with -a only: its stdin open, not
		// attached (docker start -a).
		HoldStdin: mc.Spec.OpenStdin,
		Remove:    mc.Remove, // box create --rm
		RemoveAll: stage.Remover(m),
		Log:       log,
		Warn:      os.Stderr,
		Net:       mc.Net,
		Existing:  true,
		Anchors:   run.Anchors(run.CallerAnchor(), job),
		InJob:     job != nil,
	})
}

// hold keeps the container's layers from rmi while it runs, and detects
// the id mapping to run it with.
func (mc *Config) hold() (release func(), m userns.Mapping, err error) {
	st, err := image.Open(image.Options{Root: mc.StoreRoot})
	if mc.LayerStore != "" {
		st, err = image.OpenShared(mc.LayerStore)
	}
	if err != nil {
		return nil, m, err
	}
	if release, err = st.HoldLayers(mc.Layers); err != nil {
		return nil, m, err
	}
	if m, _, err = userns.Detect(); err != nil {
		release()
		return nil, m, err
	}
	return release, m, nil
}
