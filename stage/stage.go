// Package stage runs box's re-executed stages: box started again as
// /proc/self/exe, usually inside a user namespace with the store's id
// mapping, to do what only that namespace may (unpack a layer with its
// owners, delete trees of subordinate ids, probe the kernel). It owns the
// stage variable, the dispatch, and the host side that starts a stage and
// reads its one-line error. It does not own the container's init (package
// run/pid1, started by run/prestart) or the monitor (package monitor),
// though the dispatch runs the latter.
package stage

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/box-run/box/image"
	"github.com/box-run/box/image/extract"
	"github.com/box-run/box/run/prestart"
	"github.com/box-run/box/run/proto"
	"github.com/box-run/box/userns"
	"golang.org/x/sys/unix"
)

// Env names the stage a re-executed box runs. It is box's own and is
// never passed on to anything box executes for the user.
const Env = proto.StageEnv

// Func is a stage: its arguments are the re-executed box's.
type Func func(args []string) error

// Current returns the stage this process was started as, if any.
func Current() (string, bool) {
	s := os.Getenv(Env)
	return s, s != ""
}

// Run runs stage name from stages, inside the namespaces the parent
// created, and returns the exit status. Errors are one line on stderr,
// which the parent quotes.
func Run(name string, stages map[string]Func) int {
	if err := userns.ChildInit(); err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
		return 125
	}
	f := stages[name]
	if f == nil {
		fmt.Fprintf(os.Stderr, "unknown stage %q\n", name)
		return 1
	}
	if err := f(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
		return 1
	}
	return 0
}

// Extract unpacks the tar on stdin into the directory argument.
func Extract(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("extract stage: want 1 argument, got %d", len(args))
	}
	res, err := extract.Extract(args[0], bufio.NewReaderSize(os.Stdin, 1<<20))
	if err != nil {
		return err
	}
	fmt.Printf("squashed %d bytes %d\n", res.Squashed, res.Bytes)
	return nil
}

// Chown gives a file to UID and GID of the namespace: chown UID GID PATH.
func Chown(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("chown stage: want 3 arguments, got %d", len(args))
	}
	uid, err1 := strconv.Atoi(args[0])
	gid, err2 := strconv.Atoi(args[1])
	if err1 != nil || err2 != nil {
		return fmt.Errorf("chown stage: bad ids %s %s", args[0], args[1])
	}
	return os.Lchown(args[2], uid, gid)
}

// Chowner gives a store file to ids of the store's user namespace (a
// build's cache mount with uid=, gid=); without subordinate ids only 0
// exists there.
func Chowner(m userns.Mapping) func(path string, uid, gid int) error {
	return func(path string, uid, gid int) error {
		if uid == 0 && gid == 0 {
			return nil // the user's own, as made
		}
		if m.Single() {
			return fmt.Errorf("uid %d and gid %d need subordinate ids: without them only uid and gid 0 exist (see box info)", uid, gid)
		}
		_, err := InUserns(m, Command("chown", strconv.Itoa(uid), strconv.Itoa(gid), path))
		return err
	}
}

// Remove deletes trees that hold files only the namespace's ids may remove.
func Remove(args []string) error {
	for _, p := range args {
		if err := image.RemoveAll(p); err != nil {
			return err
		}
	}
	return nil
}

// Command re-executes box as stage with args. argv[0] stays "box" so the
// test binary, which dispatches on it, runs main too.
func Command(stage string, args ...string) *exec.Cmd { return prestart.Command(stage, args...) }

// InUserns runs a stage in a user namespace with mapping m and returns its
// stdout; started, if given, run once it has started.
func InUserns(m userns.Mapping, cmd *exec.Cmd, started ...func()) (string, error) {
	var stdout bytes.Buffer
	stderr := &tailBuffer{max: 4096}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	if err := userns.Start(cmd, m, 0); err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return "", fmt.Errorf("%w: %s", err, lastLine(msg))
		}
		return "", err
	}
	for _, f := range started {
		f()
	}
	if err := cmd.Wait(); err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return "", fmt.Errorf("%s", lastLine(msg))
		}
		return "", err
	}
	return stdout.String(), nil
}

// Unpacker extracts layers in the extract stage, inside a user namespace with
// the store's mapping, so file owners land as they will be seen in containers.
//
// The tar stream (hundreds of MB for a distribution layer) goes through a
// pipe of 1 MiB in 1 MiB writes: with the reader as cmd.Stdin, os/exec
// would copy it in 32 KiB writes, each waking the stage.
func Unpacker(m userns.Mapping) func(string, io.Reader) (extract.Result, error) {
	return func(dir string, r io.Reader) (res extract.Result, err error) {
		pr, pw, err := os.Pipe()
		if err != nil {
			return res, err
		}
		unix.FcntlInt(pw.Fd(), unix.F_SETPIPE_SZ, pipeSize) // best effort: pipe-max-size may be lower
		copied, began := make(chan struct{}), false
		copyIn := func() { // once the stage runs
			began = true
			go func() {
				defer close(copied)
				// Only Write: a bufio.Writer hands ReadFrom on to an
				// *os.File, which copies 32 KiB at a time again.
				bw := bufio.NewWriterSize(struct{ io.Writer }{pw}, pipeSize)
				if _, err := bw.ReadFrom(r); err == nil {
					bw.Flush()
				}
				pw.Close()
			}()
		}
		cmd := Command("extract", dir)
		cmd.Stdin = pr
		out, err := InUserns(m, cmd, copyIn)
		// The stage has exited: with the read end closed, a write still
		// pending fails at once (EPIPE) and the copy ends.
		pr.Close()
		if began {
			<-copied
		} else {
			pw.Close()
		}
		if err != nil {
			return res, err
		}
		// "squashed N bytes M"
		f := strings.Fields(out)
		if len(f) >= 2 {
			res.Squashed, _ = strconv.Atoi(f[1])
		}
		if len(f) >= 4 {
			res.Bytes, _ = strconv.ParseInt(f[3], 10, 64)
		}
		return res, nil
	}
}

// pipeSize is the extract stage's pipe and write size.
const pipeSize = 1 << 20

// Remover deletes store trees; files owned by subordinate ids can only be
// removed from inside the namespace.
func Remover(m userns.Mapping) func(...string) error {
	return func(paths ...string) error {
		var left []string
		for _, p := range paths {
			// Most trees hold only the user's own files: try without a
			// namespace first, it saves a re-exec and two setuid helpers.
			if err := image.RemoveAll(p); err != nil {
				if m.Single() {
					return err
				}
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			return nil
		}
		_, err := InUserns(m, Command("remove", left...))
		return err
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.buf) }

func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
