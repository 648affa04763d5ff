package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/box-run/box/run"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

type execCmd struct {
	Interactive bool     `short:"i" help:"Keep stdin open."`
	TTY         bool     `short:"t" help:"Allocate a pseudo-terminal."`
	Detach      bool     `short:"d" help:"Run in the background."`
	Env         []string `short:"e" sep:"none" help:"Set an environment variable, K=V." placeholder:"K=V"`
	Workdir     string   `short:"w" help:"Working directory inside the container." placeholder:"DIR"`
	User        string   `short:"u" help:"User to run as: name|uid[:group|gid]." placeholder:"USER"`
	Args        []string `arg:"" passthrough:"" name:"container command" help:"Container, then the command and its arguments."`
}

// Run asks the container's init, over its exec socket, to run a command in
// the container, and exits with the command's status.
func (c *execCmd) Run(g *globals) error {
	if len(c.Args) < 2 {
		return withStatus(125, errors.New("\"box exec\" requires a container and a command"))
	}
	_, ct, err := g.container(c.Args[0])
	if err != nil {
		return err
	}
	if ct.Status != "running" {
		return withStatus(125, fmt.Errorf("container %s is not running", ct.Name))
	}
	cs, _ := g.containers()
	dir := filepath.Join(cs.Root, ct.ID)
	if _, err := os.Stat(filepath.Join(dir, run.ExecSocket)); err != nil {
		return withStatus(125, fmt.Errorf("container %s was not started with -d: box exec reaches detached containers only", ct.Name))
	}
	env := c.Env
	if c.TTY {
		env = append([]string{"TERM=xterm"}, env...)
	}
	req, _ := json.Marshal(run.ExecRequest{Args: c.Args[1:], Env: env, Cwd: c.Workdir, User: c.User, TTY: c.TTY})
	conn, err := dialExec(dir)
	if err != nil {
		return withStatus(125, err)
	}
	defer conn.Close()
	var stdio []int
	if !c.TTY {
		stdin := os.Stdin
		if !c.Interactive || c.Detach {
			null, err := os.Open(os.DevNull)
			if err != nil {
				return err
			}
			defer null.Close()
			stdin = null
		}
		stdio = []int{int(stdin.Fd()), int(os.Stdout.Fd()), int(os.Stderr.Fd())}
	}
	if _, _, err := conn.WriteMsgUnix(req, unix.UnixRights(stdio...), nil); err != nil {
		return withStatus(125, fmt.Errorf("asking the container to exec: %w", err))
	}
	var output chan struct{}
	if c.TTY {
		if output, err = c.attachTTY(conn); err != nil {
			return err
		}
	}
	if c.Detach {
		return nil
	}
	err = execStatus(conn)
	if output != nil {
		// The last output may still be in the pty: wait for its EOF (EIO
		// once the command's side is closed), briefly.
		select {
		case <-output:
		case <-time.After(500 * time.Millisecond):
		}
	}
	return err
}

func dialExec(dir string) (*net.UnixConn, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	// Through /proc/self/fd: the socket's full path may pass 108 bytes.
	return net.DialUnix("unix", nil, &net.UnixAddr{Name: fmt.Sprintf("/proc/self/fd/%d/%s", fd, run.ExecSocket), Net: "unix"})
}

// attachTTY receives the pty master and relays it to the caller's terminal.
func (c *execCmd) attachTTY(conn *net.UnixConn) (chan struct{}, error) {
	buf := make([]byte, 256)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil || oobn == 0 {
		if n > 0 {
			return nil, execLine(string(buf[:n]))
		}
		return nil, withStatus(125, errors.New("the container sent no terminal"))
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) == 0 {
		return nil, withStatus(125, errors.New("the container sent no terminal"))
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) == 0 {
		return nil, withStatus(125, errors.New("the container sent no terminal"))
	}
	master := os.NewFile(uintptr(fds[0]), "pty")
	for _, f := range []*os.File{os.Stdin, os.Stdout, os.Stderr} {
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil {
			unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws)
			break
		}
	}
	conn.Write([]byte{1}) // init starts the command now
	if c.Interactive && term.IsTerminal(int(os.Stdin.Fd())) {
		if st, err := term.MakeRaw(int(os.Stdin.Fd())); err == nil {
			defer term.Restore(int(os.Stdin.Fd()), st)
		}
	}
	if c.Interactive {
		go io.Copy(master, os.Stdin)
	}
	done := make(chan struct{})
	go func() {
		io.Copy(os.Stdout, master)
		close(done)
	}()
	return done, nil
}

// execStatus waits for init's report and turns it into box's exit status.
func execStatus(conn *net.UnixConn) error {
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return withStatus(125, errors.New("the container ended before the command did"))
	}
	return execLine(line)
}

// execLine reads "exit N" or "error N message".
func execLine(line string) error {
	f := strings.SplitN(strings.TrimSpace(line), " ", 3)
	code, _ := strconv.Atoi(f[1%len(f)])
	switch {
	case f[0] == "exit":
		return exitWith(code)
	case f[0] == "error" && len(f) == 3:
		return withStatus(code, errors.New(f[2]))
	}
	return withStatus(125, fmt.Errorf("unexpected answer from the container: %q", line))
}
