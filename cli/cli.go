// Package cli is box's command line: the kong grammar, one file per
// command, each declaring its flags and calling the domain packages (image
// for the store and pulls, run for containers, monitor for detached ones,
// volume for named volumes, stage for what runs in the store's user
// namespace, shell for box shell's dotfiles, records and sessions). It alone talks to
// the user: their output, one "box: …" line per error, and exit statuses
// as docker's (125 box failed, 126/127 the command, N the container's).
package cli

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/alecthomas/kong"
	"github.com/box-run/box/cli/args"
)

// started is when this process began, for --debug's stage timings.
var started = time.Now()

func sinceStart() time.Duration { return time.Since(started) }

// grammar is the whole command line; each command's Run lives in <name>.go.
type grammar struct {
	globals

	Run     runCmd     `cmd:"" help:"Run a command in a new container."`
	Create  createCmd  `cmd:"" help:"Create a container from an image without starting it; box start runs it."`
	Ps      psCmd      `cmd:"" help:"List containers."`
	Rm      rmCmd      `cmd:"" help:"Remove containers."`
	Port    portCmd    `cmd:"" help:"List a container's published ports."`
	Inspect inspectCmd `cmd:"" help:"Show containers or images as JSON."`
	Exec    execCmd    `cmd:"" help:"Run a command in a running container (started with -d, or -t, --name, -p or --init)."`
	Logs    logsCmd    `cmd:"" help:"Print a container's output (a foreground one's too, unless --rm or -t)."`
	Stop    stopCmd    `cmd:"" help:"Stop containers: SIGTERM, then SIGKILL after a timeout."`
	Start   startCmd   `cmd:"" help:"Start stopped containers again, in the background."`
	Restart restartCmd `cmd:"" help:"Stop and start containers."`
	Kill    killCmd    `cmd:"" help:"Send a signal to containers."`
	Wait    waitCmd    `cmd:"" help:"Wait for containers to exit and print their exit status."`
	Stats   statsCmd   `cmd:"" help:"Show containers' CPU, memory and process counts."`
	Cp      cpCmd      `cmd:"" help:"Copy files between a container and the host (CONTAINER:PATH)."`
	Rename  renameCmd  `cmd:"" help:"Rename a container."`
	Update  updateCmd  `cmd:"" help:"Change containers' restart policy and resource limits (docker update)."`
	Events  eventsCmd  `cmd:"" help:"Show what happens to containers, images and volumes (docker events)."`
	Pause   pauseCmd   `cmd:"" help:"Suspend a running container's processes."`
	Unpause unpauseCmd `cmd:"" help:"Resume a paused container."`
	Diff    diffCmd    `cmd:"" help:"List a container's changes to its image's files (A, C, D)."`
	Attach  attachCmd  `cmd:"" help:"Attach to a running detached container's output, input and terminal."`
	Top     topCmd     `cmd:"" help:"Show a running container's processes (the host's ps, default -ef)."`
	Shell   shellCmd   `cmd:"" help:"Enter a persistent dev container that feels like the host, made from a dotfile on first use."`
	// box shell's export, and docker's without --bin or --app.
	Export   exportCmd   `cmd:"" help:"Make a shell's command (--bin) or desktop app (--app) start from the host; without them, write a container's files as a tar (docker export)."`
	Unexport unexportCmd `cmd:"" help:"Remove what box export wrote."`

	Container containerCmd `cmd:"" help:"Manage containers: ls, rm, inspect, logs, exec, … (docker's names), prune."`
	Image     imageCmd     `cmd:"" help:"Manage images: ls, rm, inspect, tag, pull, … (docker's names), prune."`
	Volume    volumeCmd    `cmd:"" help:"Manage volumes (create, ls, inspect, rm, prune)."`
	Network   networkCmd   `cmd:"" help:"Manage networks whose containers reach each other by name (create, ls, inspect, rm, prune)."`
	System    systemCmd    `cmd:"" help:"Manage the store (prune, df, check)."`
	Pull      pullCmd      `cmd:"" help:"Pull an image from a registry into the store."`
	Images    imagesCmd    `cmd:"" help:"List images in the store."`
	Rmi       rmiCmd       `cmd:"" help:"Remove images (and layers no other image uses)."`
	Tag       tagCmd       `cmd:"" help:"Give an image another name."`
	Push      pushCmd      `cmd:"" help:"Push an image to a registry."`
	Save      saveCmd      `cmd:"" help:"Write images to a docker-archive or oci-archive tar."`
	Load      loadCmd      `cmd:"" help:"Load images from a docker-archive or oci-archive tar."`
	Import    importCmd    `cmd:"" help:"Make an image of a tar of a file system (docker import)."`
	Commit    commitCmd    `cmd:"" help:"Make an image of a container's changes."`
	Build     buildCmd     `cmd:"" help:"Build an image from a Dockerfile."`
	Builder   builderCmd   `cmd:"" help:"Manage the build cache (prune)."`
	History   historyCmd   `cmd:"" help:"Show the history of an image."`
	Login     loginCmd     `cmd:"" help:"Store credentials for a registry (docker-compatible config)."`
	Logout    logoutCmd    `cmd:"" help:"Remove stored credentials for a registry."`
	Info      infoCmd      `cmd:"" help:"Show what this host supports and what box will use."`
	Version   versionCmd   `cmd:"" help:"Print box's version."`

	Completion completionCmd `cmd:"" help:"Print a shell's completion script: eval \"$(box completion bash)\"."`
}

// single returns a grammar of the one command argv names, and its
// globals: building kong's model of every command costs more than a
// millisecond (run's thirty flags twice over, with create), which box
// run's start-up and box exec's latency budgets have not. The grammar is
// grammar's own field for that command, beside the global flags, so help
// and errors are the same; nil when argv names no command of grammar.
func single(argv []string) (any, *globals) {
	i := args.Command(argv)
	if i >= len(argv) {
		return nil, nil
	}
	t := reflect.TypeFor[grammar]()
	for j := range t.NumField() {
		f := t.Field(j)
		if _, ok := f.Tag.Lookup("cmd"); !ok || strings.ToLower(f.Name) != argv[i] {
			continue
		}
		one := reflect.New(reflect.StructOf([]reflect.StructField{
			{Name: "Globals", Type: reflect.TypeFor[globals](), Tag: `embed:""`},
			f,
		}))
		return one.Interface(), one.Elem().Field(0).Addr().Interface().(*globals)
	}
	return nil, nil
}

// Main runs box's command line and returns the exit status.
func Main(argv []string) int {
	argv, done := dockerArgv(argv)
	if done {
		return 0
	}
	if args.Command(argv) == len(argv) && os.Getenv("COMP_LINE") == "" {
		argv = append(slices.Clone(argv), "--help") // docker's: no command is its help, status 0
	}
	var c grammar
	var grammar any = &c
	g := &c.globals
	if one, og := single(argv); one != nil && os.Getenv("COMP_LINE") == "" {
		grammar, g = one, og
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
		answerCompletion(parser) // a shell asking for completions: answer and exit
		kctx, err := parser.Parse(dockerShortHostname(parser, argv))
		if err != nil {
			fmt.Fprintf(os.Stderr, "box: %v\n", err)
			return 125
		}
		g.setup()
		return report(kctx.Run(g))
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

// exitAs ends box as a container or process ended: with its status, and
// err, if it could not run, as box's one line.
func exitAs(status int, err error) error {
	if err != nil {
		return withStatus(status, err)
	}
	return exitWith(status)
}

// withStatus wraps err so that box exits with status (a domain package's
// "status, err" result).
func withStatus(status int, err error) error {
	if err == nil {
		return nil
	}
	return &statusError{status: status, err: err}
}

// report prints err as one line and returns the status to exit with: 125
// unless the error says otherwise (docker's "the runner itself failed").
func report(err error) int {
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

// dockerShortHostname rewrites docker's -h of box run and box create
// (docker's --hostname; kong gives -h to --help everywhere) as
// --hostname, among the command's flags: before its first argument and
// not as another flag's value. --help stays help.
func dockerShortHostname(parser *kong.Kong, argv []string) []string {
	i := args.Command(argv)
	if i >= len(argv) {
		return argv
	}
	path := []string{argv[i]}
	if argv[i] == "container" && i+1 < len(argv) {
		path = append(path, argv[i+1])
	}
	if last := path[len(path)-1]; last != "run" && last != "create" {
		return argv
	}
	node := parser.Model.Node
	for _, name := range path {
		var next *kong.Node
		for _, ch := range node.Children {
			if ch.Name == name {
				next = ch
			}
		}
		if next == nil {
			return argv
		}
		node = next
	}
	withValue := map[string]bool{}
	for _, group := range node.AllFlags(false) {
		for _, f := range group {
			if f.IsBool() || f.IsCounter() {
				continue
			}
			withValue["--"+f.Name] = true
			for _, a := range f.Aliases {
				withValue["--"+a] = true
			}
			if f.Short != 0 {
				withValue["-"+string(f.Short)] = true
			}
		}
	}
	out := slices.Clone(argv)
	for j := i + len(path); j < len(out); j++ {
		a := out[j]
		switch {
		case a == "--" || a == "-" || !strings.HasPrefix(a, "-"):
			return out // the image: the command's own arguments follow
		case a == "-h":
			out[j] = "--hostname"
			j++ // its value
		case strings.HasPrefix(a, "-h") && !strings.HasPrefix(a, "--"):
			out[j] = "--hostname=" + strings.TrimPrefix(a[2:], "=")
		case strings.Contains(a, "="):
		case withValue[a]:
			j++
		case !strings.HasPrefix(a, "--") && len(a) > 2 && withValue["-"+a[len(a)-1:]]:
			j++ // a cluster ending in a flag with a value (-ie K=V)
		}
	}
	return out
}
