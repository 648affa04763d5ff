package shell

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/box-run/box/run/pid1"
	"github.com/box-run/box/run/proto"
	"golang.org/x/term"
)

// This file is one enter of a made, running shell, as box shell and its
// quick enter (package cli/quick) both do it: the session's environment,
// the working directory, the command, and the exec into the container.

// LocalHost is the host as this process sees it: the caller's environment,
// and /etc/localtime's zone for TZ.
func LocalHost(home string) Host {
	lt, err := os.Readlink("/etc/localtime")
	switch {
	case err == nil && !filepath.IsAbs(lt):
		lt = filepath.Join("/etc", lt)
	case err != nil:
		lt = ""
		if fi, err := os.Stat("/etc/localtime"); err == nil && fi.Mode().IsRegular() {
			lt = "/etc/localtime"
		}
	}
	return Host{Home: home, Getenv: os.Getenv, Localtime: lt}
}

// NotSharedError is an enter's failure when the caller's working
// directory must be the command's (box export's commands) and the shell
// does not share it.
type NotSharedError struct{ Dir, Shell string }

func (e *NotSharedError) Error() string {
	return fmt.Sprintf("%s is not shared with shell %s, so the command cannot run there (share it: volumes in the shell's dotfile)", e.Dir, e.Shell)
}

// EnterDir is where an enter from the caller's working directory wd
// starts, and a note when that is not wd (see Workdir). wd is taken
// through its symlinks: the container has the directory they lead to (if
// shared), not necessarily the links. With mustShare, a wd the shell does
// not share is a *NotSharedError.
func EnterDir(st *State, wd string, mustShare bool) (dir, note string, err error) {
	if real, err := filepath.EvalSymlinks(wd); err == nil {
		wd = real
	}
	dir, note = Workdir(st, wd)
	if note != "" && mustShare {
		return "", "", &NotSharedError{Dir: wd, Shell: st.Name}
	}
	return dir, note, nil
}

// Command is what an enter runs: cmd, or the login shell when cmd is
// empty, behind the shell's enter hooks.
func Command(st *State, cmd []string) []string {
	if len(cmd) == 0 {
		cmd = []string{st.Shell, "-l"}
	}
	if len(st.Enter) > 0 {
		cmd = append([]string{"/bin/sh", "-c", enterScript(st.Name, st.Enter), "sh"}, cmd...)
	}
	return cmd
}

// enterScript runs the enter hooks in the shell that then execs the
// command, so what they export reaches it; their output goes to stderr and
// their stdin is /dev/null, so that neither mixes with the command's, and
// a failed one is named.
func enterScript(name string, hooks []string) string {
	var b strings.Builder
	for i, h := range hooks {
		fmt.Fprintf(&b, "{\n%s\n} </dev/null >&2 || echo \"box: shell %s: enter hook %d failed with status $?\" >&2\n", h, name, i+1)
	}
	b.WriteString(`exec "$@"`)
	return b.String()
}

// Exec runs argv in the shell's container, whose directory is ctDir, with
// the enter's environment, in cwd, on the caller's stdio (a terminal of
// its own when the caller's stdin and stdout are terminals), and returns
// its status (pid1.Exec).
func Exec(ctDir string, e Enter, cwd string, argv []string) (int, error) {
	tty := term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stdout.Fd()))
	return pid1.Exec(ctDir, pid1.ExecOptions{
		Request:     proto.ExecRequest{Args: argv, Env: e.Env, Cwd: cwd, TTY: tty},
		Stdin:       os.Stdin,
		Stdout:      os.Stdout,
		Stderr:      os.Stderr,
		Interactive: true,
		Exiting:     true,
	})
}
