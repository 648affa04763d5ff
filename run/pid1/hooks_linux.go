package pid1

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"sync/atomic"
	"time"

	"github.com/box-run/box/run/proto"
)

// runHooks runs the spec's createContainer hooks (those of CDI specs, such
// as nvidia-ctk's update-ldcache and create-symlinks) where the OCI
// runtime spec runs them: in the container's namespaces, after its root is
// mounted and before pivot_root, with the path and its own environment
// resolved on the host's side of the mount namespace, and the container's
// OCI state on stdin. The state's bundle holds a config.json that gives
// the hooks the root's path (root.path), the process and the hostname,
// which is what such hooks read; box itself has no OCI bundle.
//
// Init runs them from package init, on the main thread (Go keeps the main
// goroutine there while packages initialise), so they are also in a
// network namespace that init made itself.
func runHooks(spec *proto.Spec, root string) error {
	if len(spec.Hooks) == 0 {
		return nil
	}
	// /proc is still the host's: /proc/self names init by its pid there,
	// as the OCI state's pid is the runtime's view.
	self, err := os.Readlink("/proc/self")
	if err != nil {
		return err
	}
	var pid int
	fmt.Sscan(self, &pid)
	bundle := path.Join(spec.Dir, "bundle")
	if err := os.MkdirAll(bundle, 0o700); err != nil {
		return err
	}
	config, err := json.Marshal(ociConfig(spec, root))
	if err != nil {
		return err
	}
	if err := os.WriteFile(path.Join(bundle, "config.json"), config, 0o600); err != nil {
		return err
	}
	state, err := json.Marshal(map[string]any{
		"ociVersion": ociVersion, "id": spec.ID, "status": "created", "pid": pid, "bundle": bundle,
	})
	if err != nil {
		return err
	}
	for _, h := range spec.Hooks {
		if err := runHook(h, state); err != nil {
			return fmt.Errorf("%s: createContainer hook %s: %w", h.From, h.Path, err)
		}
	}
	return nil
}

const ociVersion = "1.2.0"

// ociConfig is the part of an OCI runtime config that hooks read.
func ociConfig(spec *proto.Spec, root string) map[string]any {
	return map[string]any{
		"ociVersion": ociVersion,
		"root":       map[string]any{"path": root, "readonly": spec.ReadOnly},
		"process":    map[string]any{"args": spec.Args, "env": spec.Env, "cwd": spec.Cwd},
		"hostname":   spec.Hostname,
	}
}

// runHook runs one hook with state on its stdin and its output on init's
// stderr; a hook that fails or outlives its timeout fails the container.
func runHook(h proto.Hook, state []byte) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	argv := h.Args
	if len(argv) == 0 {
		argv = []string{h.Path}
	}
	env := h.Env
	if env == nil {
		env = []string{} // nil would mean init's own environment
	}
	p, err := os.StartProcess(h.Path, argv, &os.ProcAttr{Env: env, Files: []*os.File{r, os.Stderr, os.Stderr}})
	r.Close()
	if err != nil {
		w.Close()
		return err
	}
	// A hook that does not read its stdin must not block init: the state
	// fits in a pipe's buffer, and a write error is the hook's business.
	w.Write(state)
	w.Close()
	var timedOut atomic.Bool
	if h.Timeout > 0 {
		t := time.AfterFunc(time.Duration(h.Timeout)*time.Second, func() {
			timedOut.Store(true)
			p.Kill()
		})
		defer t.Stop()
	}
	st, err := p.Wait()
	switch {
	case err != nil:
		return err
	case timedOut.Load():
		return fmt.Errorf("timed out after %ds", h.Timeout)
	case !st.Success():
		return errors.New(st.String())
	}
	return nil
}
