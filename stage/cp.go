package stage

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/box-run/box/fuseoverlay"
	"github.com/box-run/box/run/cp"
	"github.com/box-run/box/run/proto"
	"github.com/box-run/box/userns"
	"golang.org/x/sys/unix"
)

// CpJob is box cp's with a container that is not running: its request,
// and how the container's root is stacked (its spec's), for the cp stage
// to mount it as the container's init would.
type CpJob struct {
	Req          proto.CopyRequest `json:"req"`
	Overlay      string            `json:"overlay"`
	Layers       []string          `json:"layers"`
	Dir          string            `json:"dir"` // the container's: upper, work, rootfs
	Squash       bool              `json:"squash,omitempty"`
	OverlayCache string            `json:"overlayCache,omitempty"`
	// Mounts are the container's volume, bind and tmpfs targets: not
	// mounted here, so not copied to or from (the copy would go under
	// them, where the running container never looks).
	Mounts []string `json:"mounts,omitempty"`
}

// Cp is the cp stage: in the store's user namespace and a mount namespace
// of its own, it stacks the container's root as init does, chroots into
// it, and serves the request as init would (cp.Serve), with the stream on
// stdout (out) or stdin (in), and its reply, one JSON line, on fd 3.
func Cp(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("cp stage: want 1 argument, got %d", len(args))
	}
	var job CpJob
	if err := json.Unmarshal([]byte(args[0]), &job); err != nil {
		return fmt.Errorf("cp stage: %w", err)
	}
	reply := os.NewFile(3, "reply")
	skipped, err := cpStopped(&job)
	rep := proto.ExecReply{Skipped: skipped}
	if err != nil {
		rep.Status, rep.Err = 1, err.Error()
	}
	return json.NewEncoder(reply).Encode(rep)
}

func cpStopped(job *CpJob) (int, error) {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return 0, &os.PathError{Op: "make mounts private", Path: "/", Err: err}
	}
	target := path.Join(job.Dir, "rootfs")
	if err := os.MkdirAll(target, 0o700); err != nil {
		return 0, err
	}
	// Never volatile, even for a --rm container's upper: a volatile kernel
	// overlay leaves a mark in the work directory that only init's own
	// volatile mounts account for.
	if _, err := fuseoverlay.Mount(job.Overlay, fuseoverlay.Options{
		Lower: job.Layers, Upper: path.Join(job.Dir, "upper"), Work: path.Join(job.Dir, "work"),
		Target: target, CacheFile: job.OverlayCache, Squash: job.Squash,
	}); err != nil {
		return 0, fmt.Errorf("stacking the container's layers: %w", err)
	}
	// A fuse-overlayfs daemon lives as long as its mount: detached at the
	// end, it exits. (In copy mode the target is a plain directory.)
	defer unix.Unmount(target, unix.MNT_DETACH)
	old, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(old)
	if err := unix.Chroot(target); err != nil {
		return 0, &os.PathError{Op: "chroot", Path: target, Err: err}
	}
	if err := unix.Chdir("/"); err != nil {
		return 0, err
	}
	// The path as given and as the container's symlinks lead, resolved
	// in its root.
	p := path.Clean(job.Req.Path)
	for _, q := range []string{p, cp.ResolveExisting(p)} {
		for _, m := range job.Mounts {
			if cp.Under(q, m) {
				unix.Fchdir(old)
				unix.Chroot(".")
				return 0, fmt.Errorf("%s is on the container's mount at %s, which only a running container has: start it, or copy on the host", job.Req.Path, m)
			}
		}
	}
	f := os.Stdin
	if job.Req.Out {
		f = os.Stdout
	}
	skipped, err := cp.Serve(&job.Req, f)
	f.Close()
	// Back out, for the unmount: every thread shares the root (Go's
	// threads share their fs struct).
	if e := unix.Fchdir(old); e == nil {
		unix.Chroot(".")
	}
	return skipped, err
}

// CpStopped runs the cp stage for job in a user namespace with the store's
// mapping m, with f the stream's pipe end (the stage's stdout for a copy
// out, else its stdin; closed here), and returns its reply once it is
// done.
func CpStopped(m userns.Mapping, job CpJob, f *os.File) (proto.ExecReply, error) {
	defer f.Close()
	var rep proto.ExecReply
	b, err := json.Marshal(job)
	if err != nil {
		return rep, err
	}
	rr, rw, err := os.Pipe()
	if err != nil {
		return rep, err
	}
	defer rr.Close()
	cmd := Command("cp", string(b))
	if job.Req.Out {
		cmd.Stdout = f
	} else {
		cmd.Stdin = f
	}
	stderr := &tailBuffer{max: 4096}
	cmd.Stderr = stderr
	cmd.ExtraFiles = []*os.File{rw}
	// PID 1 of a namespace of its own: a fuse-overlayfs daemon dies with
	// it, even when box cp is killed before it unmounts.
	err = userns.Start(cmd, m, unix.CLONE_NEWPID)
	rw.Close()
	f.Close() // the stage has its own: the stream ends with it
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return rep, fmt.Errorf("%w: %s", err, lastLine(msg))
		}
		return rep, err
	}
	decErr := json.NewDecoder(rr).Decode(&rep)
	waitErr := cmd.Wait()
	if decErr != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return rep, errors.New(lastLine(msg))
		}
		if waitErr != nil {
			return rep, fmt.Errorf("box cp's stage: %w", waitErr)
		}
		return rep, fmt.Errorf("box cp's stage gave no answer: %w", decErr)
	}
	return rep, nil
}
