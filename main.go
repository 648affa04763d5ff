// Command box runs OCI containers as an unprivileged user, from one static binary.
//
// main stays thin: it dispatches re-executed stages before any flag parsing,
// declares the kong grammar (one file per subcommand) and turns errors into one
// "box: …" line and an exit code.
//
// GOMAXPROCS follows the CPU affinity only, not the cgroup's CPU quota:
// reading the cgroup files costs every box process (the CLI, each
// container's init and monitor) about 0.1 ms of its start-up, and box's
// parallel work (layer unpacking) is bounded by its own job count. Under a
// CPU quota on a large host the Go runtime's own workers (GC) may then run
// on more threads than the quota pays for, and be throttled.

//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/box-run/box/run/prestart"

	"github.com/alecthomas/kong"
)

// started is when this process began, for --debug's stage timings.
var started = time.Now()

func sinceStart() time.Duration { return time.Since(started) }

// version is stamped by the release build (-ldflags "-X main.version=…").
var version = ""

// cli is the whole command grammar; each command's Run lives in cmd_<name>.go.
type cli struct {
	globals

	Run     runCmd     `cmd:"" help:"Run a command in a new container."`
	Ps      psCmd      `cmd:"" help:"List containers."`
	Rm      rmCmd      `cmd:"" help:"Remove containers."`
	Port    portCmd    `cmd:"" help:"List a container's published ports."`
	Inspect inspectCmd `cmd:"" help:"Show containers or images as JSON."`
	Exec    execCmd    `cmd:"" help:"Run a command in a running detached container."`
	Logs    logsCmd    `cmd:"" help:"Print a detached container's output."`
	Stop    stopCmd    `cmd:"" help:"Stop containers: SIGTERM, then SIGKILL after a timeout."`
	Start   startCmd   `cmd:"" help:"Start stopped containers again, in the background."`
	Restart restartCmd `cmd:"" help:"Stop and start containers."`
	Kill    killCmd    `cmd:"" help:"Send a signal to containers."`
	Wait    waitCmd    `cmd:"" help:"Wait for containers to exit and print their exit status."`

	Container containerCmd `cmd:"" help:"Manage containers (prune)."`
	Image     imageCmd     `cmd:"" help:"Manage images (prune)."`
	System    systemCmd    `cmd:"" help:"Manage the store (prune, df)."`
	Pull      pullCmd      `cmd:"" help:"Pull an image from a registry into the store."`
	Images    imagesCmd    `cmd:"" help:"List images in the store."`
	Rmi       rmiCmd       `cmd:"" help:"Remove images (and layers no other image uses)."`
	Tag       tagCmd       `cmd:"" help:"Give an image another name."`
	Login     loginCmd     `cmd:"" help:"Store credentials for a registry (docker-compatible config)."`
	Logout    logoutCmd    `cmd:"" help:"Remove stored credentials for a registry."`
	Info      infoCmd      `cmd:"" help:"Show what this host supports and what box will use."`
	Version   versionCmd   `cmd:"" help:"Print box's version."`
}

func main() {
	// (Inherited descriptors are already close-on-exec: see package
	// pid1's initialiser.)
	// Re-executed stages (/proc/self/exe) are chosen by environment, before kong
	// sees argv: their argv is box's own, not a user's command line.
	if isStage() {
		os.Exit(runStage())
	}
	code := runCLI(os.Args[1:])
	prestart.Abort() // a container init started for a box run that did not use it
	os.Exit(code)
}

// runOnly is the grammar of "box run" alone: building kong's model of every
// command costs about a millisecond, which box run's start-up budget has not.
type runOnly struct {
	globals
	Run runCmd `cmd:"" help:"Run a command in a new container."`
}

func runCLI(args []string) int {
	var c cli
	var grammar any = &c
	g := &c.globals
	if firstCommand(args) == "run" {
		r := &runOnly{}
		grammar, g = r, &r.globals
	}
	parser, err := kong.New(grammar,
		kong.Name("box"),
		kong.Description("Rootless containers in one binary: no daemon, no setuid helper."),
		kong.UsageOnError(),
		kong.Exit(func(code int) { panic(exitCode(code)) }),
	)
	if err != nil {
		fmt.Fprintf(os.Stderr, "box: %v\n", err)
		return 125
	}
	code := func() (code int) {
		// kong calls Exit for --help and usage errors; turn that into a return so
		// deferred cleanups run and the test binary can call runCLI repeatedly.
		defer func() {
			if r := recover(); r != nil {
				if c, ok := r.(exitCode); ok {
					code = int(c)
					return
				}
				panic(r)
			}
		}()
		kctx, err := parser.Parse(args)
		if err != nil {
			fmt.Fprintf(os.Stderr, "box: %v\n", err)
			return 125
		}
		g.setup()
		return exitStatus(kctx.Run(g))
	}()
	return code
}

// exitCode carries kong's requested exit status through a panic.
type exitCode int

// statusError is an error with the exit status box should end with.
type statusError struct {
	status int
	err    error
}

func (e *statusError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.status)
	}
	return e.err.Error()
}
func (e *statusError) Unwrap() error { return e.err }

// exitWith ends box with status and no message: the container's own status.
func exitWith(status int) error {
	if status == 0 {
		return nil
	}
	return &statusError{status: status}
}

// withStatus wraps err so that box exits with status.
func withStatus(status int, err error) error {
	if err == nil {
		return nil
	}
	return &statusError{status: status, err: err}
}

// exitStatus prints err as one line and returns the status to exit with:
// 125 unless the error says otherwise (docker's "the runner itself failed").
func exitStatus(err error) int {
	if err == nil {
		return 0
	}
	status := 125
	var se *statusError
	if errors.As(err, &se) {
		status = se.status
		if se.err == nil {
			return status // the container's own status: it said what it had to
		}
	}
	fmt.Fprintf(os.Stderr, "box: %v\n", err)
	return status
}

// firstCommand is the first argument that is not a global flag.
func firstCommand(args []string) string {
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--root" || a == "--config":
			i++ // its value
		case strings.HasPrefix(a, "-"):
		default:
			return a
		}
	}
	return ""
}
