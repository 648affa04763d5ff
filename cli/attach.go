package cli

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/box-run/box/monitor"
	"github.com/box-run/box/run/pid1"
	"github.com/box-run/box/run/proto"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

type attachCmd struct {
	NoStdin    bool   `name:"no-stdin" help:"Do not attach stdin."`
	SigProxy   bool   `name:"sig-proxy" default:"true" negatable:"" help:"Pass the signals box attach gets on to the container (not with a terminal, where ^C is a key)."`
	DetachKeys string `name:"detach-keys" help:"Keys that detach and leave the container running, as docker's (default ctrl-p,ctrl-q; with a terminal)." placeholder:"KEYS"`
	Container  string `arg:"" help:"Container name or id." predictor:"container"`
}

// Run attaches to a running detached container as docker attach does: its
// output from now on (stdout and stderr apart, or its terminal), box
// attach's stdin to its stdin when it was made with -i, the terminal's
// size, and the container's exit status once it ends. The detach keys
// leave it running. Its monitor serves the attach socket (run's attach.go).
func (c *attachCmd) Run(g *globals) error {
	cs, ct, err := g.container(c.Container)
	if err != nil {
		return err
	}
	if ct.Status != "running" {
		return withStatus(1, errors.New("you cannot attach to a stopped container, start it first"))
	}
	if ct.Paused {
		return withStatus(1, errors.New("you cannot attach to a paused container, unpause it first"))
	}
	dir := cs.Dir(ct.ID)
	mc, err := monitor.ReadConfig(dir)
	if err != nil {
		return withStatus(1, fmt.Errorf("container %s runs in the foreground: its own box run is attached to it", ct.Name))
	}
	keys := []byte{16, 17} // ctrl-p, ctrl-q
	if c.DetachKeys != "" {
		if keys, err = parseDetachKeys(c.DetachKeys); err != nil {
			return withStatus(1, err)
		}
	}
	conn, err := dialAttach(dir)
	if err != nil {
		return withStatus(1, fmt.Errorf("container %s: no attach socket (started by an older box, or in the foreground; restart it with box restart): %w", ct.Name, err))
	}
	defer conn.Close()
	tty := mc.Spec.TTY
	stdinTerm := term.IsTerminal(int(os.Stdin.Fd()))
	input := mc.Spec.OpenStdin && !c.NoStdin
	sigs := make(chan os.Signal, 16)
	if tty && stdinTerm && input {
		// Keys go to the container as typed (^C too); without input the
		// terminal stays as it is, and ^C ends box attach alone. A TERM
		// or HUP to box attach gives the terminal back before it ends.
		if st, err := term.MakeRaw(int(os.Stdin.Fd())); err == nil {
			defer term.Restore(int(os.Stdin.Fd()), st)
			ends := make(chan os.Signal, 1)
			signal.Notify(ends, syscall.SIGTERM, syscall.SIGHUP)
			go func() {
				s := <-ends
				term.Restore(int(os.Stdin.Fd()), st)
				os.Exit(128 + int(s.(syscall.Signal)))
			}()
		}
	}
	if tty {
		signal.Notify(sigs, syscall.SIGWINCH)
		sendSize(conn)
	} else if c.SigProxy {
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	}
	go func() {
		for s := range sigs {
			if s == syscall.SIGWINCH {
				sendSize(conn)
				continue
			}
			cs.Kill(ct, s.(syscall.Signal))
		}
	}()
	detached := make(chan struct{})
	if input {
		go func() {
			if copyInput(conn, os.Stdin, keys, tty && stdinTerm) {
				close(detached)
				conn.Close()
			}
		}()
	}
	var buf []byte
	ended := false
	for {
		kind, payload, err := proto.ReadAttachFrame(conn, buf)
		if err != nil {
			break
		}
		if kind == proto.AttachEnd {
			ended = true
			break
		}
		buf = payload[:0]
		out := os.Stdout
		if kind == proto.AttachStderr {
			out = os.Stderr
		}
		out.Write(payload)
	}
	select {
	case <-detached:
		return nil
	default:
	}
	if !ended {
		if cur, err := cs.Lookup(ct.ID); err == nil && cur.Status == "running" && cur.RestartCount == ct.RestartCount {
			return withStatus(1, fmt.Errorf("container %s: box attach fell behind its output and was cut off; the container runs on (box logs has the output)", ct.Name))
		}
	}
	// The monitor recorded the exit before it closed the stream; a
	// restart policy may have started the container again since, which
	// docker attach does not follow either.
	if cur, err := cs.Lookup(ct.ID); err == nil && cur.Status == "running" && cur.RestartCount > ct.RestartCount {
		return exitAs(cur.ExitCode, nil)
	}
	status, err := cs.Wait(ct)
	return exitAs(status, err)
}

// dialAttach connects to the container's attach socket, whose path may be
// longer than a socket's name may be.
func dialAttach(dir string) (net.Conn, error) {
	if _, err := os.Lstat(filepath.Join(dir, proto.AttachSocket)); err != nil {
		return nil, err
	}
	short, done, err := pid1.ShortPath(dir, proto.AttachSocket)
	if err != nil {
		return nil, err
	}
	defer done()
	return net.Dial("unix", short)
}

// sendSize sends the terminal's size, if box attach has one.
func sendSize(conn net.Conn) {
	for _, f := range []*os.File{os.Stdin, os.Stdout, os.Stderr} {
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil {
			var p [4]byte
			binary.BigEndian.PutUint16(p[:], ws.Row)
			binary.BigEndian.PutUint16(p[2:], ws.Col)
			proto.WriteAttachFrame(conn, proto.AttachResize, p[:])
			return
		}
	}
}

// copyInput sends in to the container until EOF, or until the detach keys
// are typed (watch: at a terminal), which it reports. Keys typed up to a
// partial match are held back until they turn out not to be the sequence.
func copyInput(conn net.Conn, in io.Reader, keys []byte, watch bool) (detached bool) {
	buf := make([]byte, 32<<10)
	matched := 0
	for {
		n, err := in.Read(buf)
		if n > 0 {
			data := buf[:n]
			if watch {
				var out []byte
				for _, b := range data {
					if b == keys[matched] {
						matched++
						if matched == len(keys) {
							// What came before the keys goes first.
							if len(out) > 0 {
								proto.WriteAttachFrame(conn, proto.AttachInput, out)
							}
							return true
						}
						continue
					}
					out = append(out, keys[:matched]...)
					matched = 0
					if b == keys[0] {
						matched = 1
						continue
					}
					out = append(out, b)
				}
				data = out
			}
			if len(data) > 0 && proto.WriteAttachFrame(conn, proto.AttachInput, data) != nil {
				return false
			}
		}
		if err != nil {
			return false
		}
	}
}

// parseDetachKeys reads docker's --detach-keys: keys separated by commas,
// each a letter or ctrl-X (X a letter, @, [, \, ], ^ or _).
func parseDetachKeys(s string) ([]byte, error) {
	var out []byte
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1:
			out = append(out, k[0])
		case strings.HasPrefix(k, "ctrl-") && len(k) == 6:
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				out = append(out, c-'a'+1)
			case c >= '@' && c <= '_':
				out = append(out, c-'@')
			default:
				return nil, fmt.Errorf("invalid --detach-keys %q: %q is no key", s, k)
			}
		default:
			return nil, fmt.Errorf("invalid --detach-keys %q: %q is no key (a letter or ctrl-X)", s, k)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("invalid --detach-keys %q", s)
	}
	return out, nil
}
