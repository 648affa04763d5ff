package cli

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/box-run/box/run/pid1"
	"github.com/box-run/box/run/proto"
	"github.com/box-run/box/shell"
)

// A shell's hooks: box.toml's as root, a devcontainer.json's as the user.

// rootHooks runs a shell's hooks as root in its container, each a line of
// one sh script that stops at the first failure (what one sets up, a cd or
// a variable, the next has). failed names a hook in box's line for its
// failure ("shell dev: create hook $box_hook"): the script says it from an
// EXIT trap, as only it knows which hook failed, and box adds nothing but
// the status, unless a signal may have ended the script before its trap.
// (A hook that sets an EXIT trap of its own, or execs, takes that line with
// it: the status is still the hook's.)
func rootHooks(dir, failed string, hooks []string) error {
	if len(hooks) == 0 {
		return nil
	}
	var script strings.Builder
	fmt.Fprintf(&script, "set -e\ntrap 's=$?; [ $s = 0 ] || echo \"box: %s failed with status $s\" >&2' EXIT\n", failed)
	for i, h := range hooks {
		fmt.Fprintf(&script, "box_hook=%d\n%s\n", i+1, h)
	}
	status, err := pid1.Exec(dir, pid1.ExecOptions{
		Request: proto.ExecRequest{Args: []string{"/bin/sh", "-c", script.String()}, User: "0:0", Cwd: "/"},
		Stdin:   devNull(), Stdout: os.Stderr, Stderr: os.Stderr,
	})
	failure := strings.ReplaceAll(failed, " $box_hook", "s")
	if err != nil {
		return withStatus(status, fmt.Errorf("%s: %w", failure, err))
	}
	if status > 128 {
		return withStatus(status, fmt.Errorf("%s ended with status %d", failure, status))
	}
	return exitWith(status)
}

// userHooks runs a devcontainer.json's lifecycle commands (argvs) as the
// user, in the workspace, with the shell's environment; the first failure
// stops them.
func userHooks(dir, what string, st *shell.State, hooks [][]string) error {
	env := []string{"BOX_SHELL=" + st.Name}
	for k, v := range st.Env {
		env = append(env, k+"="+v)
	}
	if st.User != "" {
		env = append(env, "USER="+st.User, "LOGNAME="+st.User)
	}
	cwd := st.Workspace
	if cwd == "" {
		cwd = st.Home
	}
	for _, argv := range hooks {
		status, err := pid1.Exec(dir, pid1.ExecOptions{
			Request: proto.ExecRequest{Args: argv, Env: env, Cwd: cwd},
			Stdin:   devNull(), Stdout: os.Stderr, Stderr: os.Stderr,
		})
		if err != nil {
			return withStatus(status, fmt.Errorf("running the shell's %s: %w", what, err))
		}
		if status != 0 {
			return withStatus(status, fmt.Errorf("the shell's %s %q failed with status %d", what, strings.Join(argv, " "), status))
		}
	}
	return nil
}

func devNull() *os.File {
	f, _ := os.Open(os.DevNull)
	return f
}

// loginShell is the caller's login shell from the host's passwd, else $SHELL.
func loginShell() string {
	b, _ := os.ReadFile("/etc/passwd")
	uid := strconv.Itoa(os.Getuid())
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Split(line, ":"); len(f) == 7 && f[2] == uid && f[6] != "" {
			return f[6]
		}
	}
	return os.Getenv("SHELL")
}
