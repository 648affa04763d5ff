// Package quick runs box's two most frequent short commands from its
// initialiser, before most of box initialises: a warm `box shell [NAME]
// [-- CMD ARGS...]` (what a dev shell's user types most, and what box
// export's commands run) and `box exec` into a running detached container
// named by its name (exec.go).
//
// Go runs every package's initialiser before main: some 190 for box (the
// registry client, TLS, gVisor's netstack, the Dockerfile parser, the
// CLI), and every one that allocates touches fresh pages, which in a VM
// that returns freed memory to its host cost about 15 µs each. Then box
// builds its grammar and parses. Go initialises a package as soon as
// its imports are, in import path order, so this one, which imports only
// packages that do not reach net, net/netip or the registry client
// (package shell, run/pid1, run/environ, internal/locate, internal/proc and
// the standard library), runs after about 110 of them (docs/BENCHMARKS.md,
// Session 9). It reads the records it needs and execs into the container
// as box shell and box exec do: package shell's LocalHost, Session,
// EnterDir, Command and Exec are both box shell's and this package's, and
// pid1.Exec and environ.ExecEnv box exec's and this package's. box then
// exits from here.
//
// It takes only what it can decide without the rest of box, before it
// changes anything; in every other case it returns and box goes on as
// usual, and says what there is to say. Both commands are taken only when
// the global flags are --root and --config at most, and the store is named
// (--root, BOX_ROOT) or there is no configuration file at all: the store
// a configuration names is package config's to read, with all its
// checks. A shell is entered when
//   - the arguments are `shell [--shared-wd] [NAME] [-- CMD ARGS...]`;
//   - the shell is made, its container runs, and its start hooks ran for
//     this start;
//   - its dotfile is the one it was made from, unchanged (the same path and
//     hash; a project's box.toml found as box shell finds it), and passed
//     this box's checks (shell.DotfileRules). The same bytes parse as they
//     did, so the quick enter needs no TOML; a changed file is box
//     shell's to note, and one checked under older rules box shell's to
//     check again (it records that it did);
//   - the enter forwards no socket (an ssh agent outside what the shell
//     shares): package forward serves those with package net.
//
// BOX_QUICK=0 turns it off.
package quick

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/box-run/box/cli/args"
	"github.com/box-run/box/internal/locate"
	"github.com/box-run/box/internal/proc"
	"github.com/box-run/box/run/proto"
	"github.com/box-run/box/shell"
)

// Off turns the quick paths off (BOX_QUICK=0), for measuring them and for
// tests that compare them with box shell's and box exec's own.
const Off = "BOX_QUICK"

func init() {
	if os.Getenv(proto.StageEnv) != "" || os.Getenv(Off) == "0" || os.Getenv("COMP_LINE") != "" {
		return
	}
	cmd, rest, where, ok := globals(os.Args[1:])
	if !ok {
		return
	}
	code := 0
	switch cmd {
	case "shell":
		var r request
		if r, ok = parse(rest); ok {
			code, ok = enter(where, r)
		}
	case "exec":
		var r execRequest
		if r, ok = parseExec(rest); ok {
			code, ok = execute(where, r)
		}
	default:
		ok = false
	}
	if ok {
		os.Exit(code)
	}
}

// store is where box's global flags and environment say the store is.
type store struct {
	root   string // --root or BOX_ROOT; "" when neither
	config bool   // --config or BOX_CONFIG named a file
}

// globals reads box's arguments (without argv[0]) up to the command: the
// command, its arguments, and the store; ok false for a global flag other
// than --root and --config (--debug, --help: box's).
func globals(argv []string) (cmd string, rest []string, st store, ok bool) {
	st.root = os.Getenv("BOX_ROOT")
	st.config = os.Getenv("BOX_CONFIG") != ""
	i := args.Command(argv)
	if i >= len(argv) {
		return "", nil, st, false
	}
	for j := 0; j < i; j++ {
		flag, value, inline := strings.Cut(argv[j], "=")
		if !inline && j+1 < i {
			value = argv[j+1]
		}
		if value == "" || strings.HasPrefix(value, "-") {
			return "", nil, st, false // box's parser says what is wrong
		}
		switch flag {
		case "--root":
			st.root = value
		case "--config":
			st.config = true
		default:
			return "", nil, st, false
		}
		if !inline {
			j++
		}
	}
	return argv[i], argv[i+1:], st, st.root != "" || !st.config
}

// dir is the store's directory, or ok false when a configuration file may
// name it: the store a configuration names is package config's to read,
// with all its checks.
func (st store) dir() (string, bool) {
	if st.root != "" {
		return st.root, true
	}
	if configured(locate.ConfigFiles(locate.SystemConfig)) {
		return "", false
	}
	root, _, err := locate.DefaultStore()
	return root, err == nil
}

// request is a parsed `box shell` that the quick enter may take.
type request struct {
	name     string // "" for the project's shell, else default
	cmd      []string
	sharedWd bool
}

// parse takes box shell's arguments when they are an enter the quick
// enter can decide on.
func parse(rest []string) (request, bool) {
	var r request
	for len(rest) > 0 && rest[0] == "--shared-wd" {
		r.sharedWd, rest = true, rest[1:]
	}
	if len(rest) > 0 && rest[0] != "--" {
		if strings.HasPrefix(rest[0], "-") || shell.CheckName(rest[0]) != nil {
			return r, false
		}
		r.name, rest = rest[0], rest[1:]
	}
	if len(rest) > 0 {
		if rest[0] != "--" {
			return r, false
		}
		r.cmd = rest[1:]
	}
	return r, true
}

// enter enters the shell and returns box's exit status, or ok false,
// having changed nothing, when box shell is to do it.
func enter(where store, r request) (code int, ok bool) {
	root, ok := where.dir()
	if !ok {
		return 0, false
	}
	home, err := locate.Home()
	if err != nil {
		return 0, false
	}
	wd, _ := os.Getwd()
	ss := shell.Store{Dir: locate.ShellsDir(root)}
	name, dotfile, ok := find(r.name, wd, shell.ConfigDir(home), ss)
	if !ok {
		return 0, false
	}
	if !ss.Made(name) {
		return 0, false // box shell makes it (Entered would leave a file for it)
	}
	// Not waiting: while a --rebuild holds a shell of this name, it may
	// not even be this one (a box.toml that names its shell otherwise).
	release, busy, err := ss.TryEntered(name)
	if err != nil || busy {
		return 0, false
	}
	st, ctDir, ok := warm(ss, locate.ContainersDir(root), name, dotfile)
	var session shell.Enter
	if ok {
		session = shell.Session(st, shell.LocalHost(home), strconv.Itoa(os.Getpid()))
		ok = len(session.Forwards) == 0
	}
	var made []string
	if ok {
		made, err = shell.WriteCopies(ss.RunDir(st.Name), session.Copies)
		ok = err == nil
	}
	done := func() {
		for _, p := range made {
			os.Remove(p)
		}
		release()
	}
	if !ok {
		done()
		return 0, false
	}
	defer done()
	cwd, note, err := shell.EnterDir(st, wd, r.sharedWd)
	if err != nil {
		return fail(125, err), true
	}
	if note != "" {
		fmt.Fprintf(os.Stderr, "box: %s\n", note)
	}
	status, err := shell.Exec(ctDir, session, cwd, shell.Command(st, r.cmd))
	if err != nil {
		return fail(status, err), true
	}
	return status, true
}

// fail reports err as box does (package cli's report).
func fail(status int, err error) int {
	fmt.Fprintf(os.Stderr, "box: %v\n", err)
	return status
}

// configured reports whether one of the configuration files may name the
// store: one exists, or cannot be told not to.
func configured(files []string) bool {
	for _, p := range files {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			return true
		}
	}
	return false
}

// find is package dotfile's Find and Recorded for a made shell, without
// reading the dotfile: the shell's name and its dotfile's path ("" for
// none), as box shell finds them. With a name (Recorded),
// configDir/shells/NAME.toml, else the dotfile the record names; without
// (Find), the box.toml of the project holding wd (the nearest), else the
// default shell's NAME.toml or none. A project's shell is
// named after its directory unless its box.toml says otherwise: warm
// takes the path and hash as the record has them, so a name set in the
// file finds no record under the directory's name, and box shell enters.
func find(name, wd, configDir string, ss shell.Store) (string, string, bool) {
	named := name != ""
	if !named {
		for dir := wd; dir != ""; {
			p := filepath.Join(dir, shell.ProjectFile)
			if _, err := os.Stat(p); err == nil {
				return shell.SafeName(filepath.Base(dir)), p, true
			} else if !errors.Is(err, fs.ErrNotExist) {
				return "", "", false
			}
			up := filepath.Dir(dir)
			if up == dir {
				break
			}
			dir = up
		}
		name = shell.DefaultName
	}
	p := filepath.Join(configDir, "shells", name+".toml")
	if _, err := os.Stat(p); err == nil {
		return name, p, true
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", "", false
	}
	if !named {
		return name, "", true // Find's: the default shell's own dotfile or none
	}
	// A named shell without NAME.toml: the record's own dotfile (a
	// project's, made by a box shell in it), as Recorded has it; checked
	// by warm.
	st, err := ss.Load(name)
	if err != nil {
		return "", "", false
	}
	return name, st.Dotfile, true
}

// hashOf is a dotfile's hash (config.HashOf).
func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// record is what a warm enter reads of a container's record (package
// run's Container, containers/ID/container.json).
type record struct {
	ID       string    `json:"id"`
	Status   string    `json:"status"`
	Started  time.Time `json:"started"`
	Pid      int       `json:"pid"`
	PidStart uint64    `json:"pidStart"`
	Monitor  int       `json:"monitor"`
	MonStart uint64    `json:"monitorStart"`
	BootID   string    `json:"bootId"`
	// For box exec's events:
	Name   string            `json:"name"`
	Image  string            `json:"image"`
	Labels map[string]string `json:"labels"`
}

// running reads the record of container id (package run's Container) and
// returns its directory and the record, ok when it runs: its init or its
// monitor still does (run.Containers' rule).
func running(containers, id string) (dir string, ct record, ok bool) {
	dir = filepath.Join(containers, id)
	b, err := os.ReadFile(filepath.Join(dir, "container.json"))
	if err != nil {
		return "", ct, false
	}
	if err := json.Unmarshal(b, &ct); err != nil || ct.ID != id {
		return "", ct, false
	}
	alive := proc.Alive(ct.Pid, ct.PidStart, ct.BootID) || proc.Alive(ct.Monitor, ct.MonStart, ct.BootID)
	if _, err := os.Lstat(filepath.Join(dir, proto.PausedFile)); err == nil {
		return dir, ct, false // box pause's: the full path says so
	}
	return dir, ct, ct.Status == "running" && alive
}

// warm returns the shell's record and its container's directory when the
// shell was made from dotfile as it is now (the same path, the same hash)
// and its container runs, started when the shell's start hooks last ran:
// box shell's warm enter (cli's ready).
func warm(ss shell.Store, containers, name, dotfile string) (*shell.State, string, bool) {
	st, err := ss.Load(name)
	if err != nil || st.Name != name || st.Dotfile != dotfile || st.Rules != shell.DotfileRules {
		return nil, "", false // another dotfile, or one checked under older rules
	}
	hash := ""
	if dotfile != "" {
		b, err := os.ReadFile(dotfile)
		if err != nil {
			return nil, "", false
		}
		hash = hashOf(b)
	}
	if st.Hash != hash {
		return nil, "", false
	}
	id, err := os.Readlink(filepath.Join(containers, "names", shell.ContainerName(name)))
	if err != nil || id != st.Container || id == "" || strings.Contains(id, "/") {
		return nil, "", false
	}
	dir, ct, ok := running(containers, id)
	if !ok || !ct.Started.Equal(st.Started) {
		return nil, "", false
	}
	return st, dir, true
}
