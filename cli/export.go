package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/box-run/box/internal/locate"
	"github.com/box-run/box/run"
	"github.com/box-run/box/run/pid1"
	"github.com/box-run/box/run/proto"
	"github.com/box-run/box/shell"
	"github.com/box-run/box/shell/dotfile"
)

// box export is a shell's: docker's export (a container's files as a tar)
// is not box's, and box save writes images.
type exportCmd struct {
	Output string `short:"o" help:"Without --bin or --app: write the container's files to FILE instead of standard output." placeholder:"FILE"`
	Name   string `arg:"" help:"The shell; without --bin or --app, a container (docker export)."`
	Bin    string `help:"Write ~/.local/bin/CMD, a script that runs CMD in the shell (box shell NAME -- CMD ARGS…) with your working directory, stdio, terminal and exit status." placeholder:"CMD"`
	App    string `help:"Write a desktop entry (in $XDG_DATA_HOME/applications) that starts the shell's app, from its /usr/share/applications/APP.desktop." placeholder:"APP"`
}

type unexportCmd struct {
	Name string `arg:"" help:"The shell."`
	Bin  string `help:"Remove the script box export --bin CMD wrote." placeholder:"CMD"`
	App  string `help:"Remove the desktop entry box export --app APP wrote." placeholder:"APP"`
}

// Run writes the shell's command script or desktop entry.
func (c *exportCmd) Run(g *globals) error {
	if c.Bin == "" && c.App == "" {
		if _, _, err := g.container(c.Name); errors.Is(err, run.ErrNoContainer) && c.isShell(g) {
			return withStatus(125, fmt.Errorf("%v: for shell %s, name --bin CMD or --app APP", err, c.Name))
		}
		return (&containerExportCmd{Output: c.Output, Container: c.Name}).Run(g)
	}
	if c.Output != "" {
		return withStatus(125, errors.New("-o writes a container's files (docker export): not with --bin or --app"))
	}
	home, err := exportArgs(c.Name, c.Bin, c.App)
	if err != nil {
		return err
	}
	box, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding box's own path: %w", err)
	}
	ss, cs, err := g.shellStores()
	if err != nil {
		return err
	}
	st, _ := ss.Load(c.Name)
	d, err := dotfile.Recorded(c.Name, st, shell.ConfigDir(home))
	if err != nil {
		return err
	}
	if st == nil && d.File == nil && c.Name != shell.DefaultName {
		return withStatus(1, fmt.Errorf("no such shell: %s (box shell %s makes it)", c.Name, c.Name))
	}
	if c.Bin != "" {
		path := filepath.Join(shell.BinDir(home), filepath.Base(c.Bin))
		if err := shell.CheckWritable(path, c.Name); err != nil {
			return err
		}
		// The command must be in the shell, found as the script will
		// find it: the shell is made or started for that, as for --app.
		st, ct, err := (&shellCmd{}).ready(g, ss, cs, d, home)
		if err != nil {
			return err
		}
		if err := hasCommand(cs.Dir(ct.ID), st, home, c.Bin); err != nil {
			return err
		}
		if err := shell.WriteExport(path, c.Name, shell.BinScript(box, c.Name, c.Bin), 0o755); err != nil {
			return err
		}
		fmt.Println(path)
		if !slices.Contains(filepath.SplitList(os.Getenv("PATH")), shell.BinDir(home)) {
			fmt.Fprintf(os.Stderr, "box: %s is not on your PATH\n", shell.BinDir(home))
		}
		return nil
	}
	// The app's entry is in the shell's files: read it there.
	app := strings.TrimSuffix(c.App, ".desktop")
	st, ct, err := (&shellCmd{}).ready(g, ss, cs, d, home)
	if err != nil {
		return err
	}
	entry, err := readInShell(cs.Dir(ct.ID), "/usr/share/applications/"+app+".desktop")
	if err != nil {
		return err
	}
	if entry == nil {
		return withStatus(1, fmt.Errorf("shell %s has no app %s: no /usr/share/applications/%s.desktop in it", st.Name, app, app))
	}
	out, err := shell.DesktopEntry(box, c.Name, app, entry)
	if err != nil {
		return fmt.Errorf("shell %s's /usr/share/applications/%s.desktop: %w", st.Name, app, err)
	}
	path := filepath.Join(shell.AppDir(home), shell.AppFile(c.Name, app))
	if err := shell.WriteExport(path, c.Name, out, 0o644); err != nil {
		return err
	}
	fmt.Println(path)
	return nil
}

// isShell reports whether Name is a shell's, made or with a dotfile.
func (c *exportCmd) isShell(g *globals) bool {
	if shell.CheckName(c.Name) != nil {
		return false
	}
	if ss, _, err := g.shellStores(); err == nil {
		if st, _ := ss.Load(c.Name); st != nil {
			return true
		}
	}
	home, err := locate.Home()
	if err != nil {
		return false
	}
	_, err = os.Stat(filepath.Join(shell.ConfigDir(home), "shells", c.Name+".toml"))
	return err == nil
}

// Run removes what box export wrote.
func (c *unexportCmd) Run(g *globals) error {
	home, err := exportArgs(c.Name, c.Bin, c.App)
	if err != nil {
		return err
	}
	path := filepath.Join(shell.BinDir(home), filepath.Base(c.Bin))
	if c.App != "" {
		path = filepath.Join(shell.AppDir(home), shell.AppFile(c.Name, c.App))
	}
	err = shell.RemoveExport(path, c.Name)
	if errors.Is(err, fs.ErrNotExist) {
		return withStatus(1, fmt.Errorf("shell %s has no export at %s", c.Name, path))
	}
	return err
}

// exportArgs checks export's and unexport's arguments and returns the home.
func exportArgs(name, bin, app string) (home string, err error) {
	if err := shell.CheckName(name); err != nil {
		return "", withStatus(125, err)
	}
	switch {
	case (bin == "") == (app == ""):
		return "", withStatus(125, errors.New("name one of --bin CMD or --app APP"))
	case bin != "":
		if err := shell.CheckCommand(bin); err != nil {
			return "", withStatus(125, err)
		}
	case strings.ContainsAny(app, "/\x00\n") || strings.HasPrefix(app, ".") || strings.TrimSuffix(app, ".desktop") == "":
		return "", withStatus(125, fmt.Errorf("invalid app %q: name a desktop entry in /usr/share/applications", app))
	}
	return locate.Home()
}

// hasCommand checks that cmd is there to run in a running shell, as its
// user, with an enter's environment and after the enter hooks (which may
// change PATH), as the script box export writes finds it.
func hasCommand(dir string, st *shell.State, home, cmd string) error {
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer null.Close()
	session := shell.Session(st, shell.LocalHost(home), strconv.Itoa(os.Getpid()))
	status, err := pid1.Exec(dir, pid1.ExecOptions{
		Request: proto.ExecRequest{Args: shell.Command(st, shell.CommandCheck(cmd)), Env: session.Env, Cwd: "/"},
		Stdin:   null, Stdout: null, Stderr: null,
	})
	switch {
	case err != nil:
		return withStatus(status, fmt.Errorf("looking for %s in shell %s: %w", cmd, st.Name, err))
	case status == 127 && filepath.IsAbs(cmd):
		return withStatus(1, fmt.Errorf("shell %s has no command %s (no executable file there)", st.Name, cmd))
	case status == 127:
		return withStatus(1, fmt.Errorf("shell %s has no command %s on its PATH", st.Name, cmd))
	case status != 0:
		return withStatus(1, fmt.Errorf("looking for %s in shell %s: status %d", cmd, st.Name, status))
	}
	return nil
}

// readInShell reads a file in a running shell's container, as the user;
// nil when it cannot.
func readInShell(dir, path string) ([]byte, error) {
	f, err := os.CreateTemp("", "box-export-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer null.Close()
	status, err := pid1.Exec(dir, pid1.ExecOptions{
		Request: proto.ExecRequest{Args: []string{"cat", "--", path}, Cwd: "/"},
		Stdin:   null, Stdout: f, Stderr: null,
	})
	if err != nil {
		return nil, withStatus(status, fmt.Errorf("reading %s in the shell: %w", path, err))
	}
	if status != 0 {
		return nil, nil
	}
	return os.ReadFile(f.Name())
}
