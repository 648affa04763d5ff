package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"slices"

	"github.com/box-run/box/cli/args"
)

type versionCmd struct {
	Format string `short:"f" help:"Print through a Go template, as docker: '{{.Client.Version}}' ({{.Server}} is box too: it has no daemon); json for JSON." placeholder:"TEMPLATE"`
}

// versionInfo is docker version's Client (and Server) object, as far as
// box has its fields.
type versionInfo struct {
	Platform   struct{ Name string }
	Version    string
	APIVersion string `json:"ApiVersion"`
	GoVersion  string
	GitCommit  string
	Built      string
	Os         string
	Arch       string
}

// Run prints box's version, and for a release build the commit and date
// it was built from (stamped through -ldflags; see .goreleaser.yaml).
// With --format, docker version's object: box is both its client and
// its engine, so Server is the same as Client (a script that asks
// {{.Server.Version}} whether an engine answers gets box's).
func (c versionCmd) Run() error {
	if c.Format == "" {
		fmt.Printf("box %s %s/%s %s\n", versionString(), runtime.GOOS, runtime.GOARCH, runtime.Version())
		if commit != "" {
			fmt.Printf("commit %s %s\n", commit, date)
		}
		return nil
	}
	v := versionInfo{Version: versionString(), GoVersion: runtime.Version(), GitCommit: commit, Built: date, Os: runtime.GOOS, Arch: runtime.GOARCH}
	v.Platform.Name = "box"
	obj := struct{ Client, Server versionInfo }{v, v}
	if c.Format == "json" {
		b, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		fmt.Println(string(b))
		return nil
	}
	tmpl, err := inspectTemplate(c.Format)
	if err != nil {
		return err
	}
	b, err := tmpl.Object(obj)
	if err != nil {
		return withStatus(1, err)
	}
	_, err = os.Stdout.Write(append(b, '\n'))
	return err
}

// dockerArgv handles what docker's root command does before any command:
// -v or --version among the global flags prints "box version X, build Y"
// (docker's "Docker version X, build Y") and is done; "help CMD..." is
// "CMD... --help". Otherwise it returns argv as kong should see it.
func dockerArgv(argv []string) ([]string, bool) {
	i := args.Command(argv)
	if slices.ContainsFunc(argv[:i], func(a string) bool { return a == "-v" || a == "--version" }) {
		fmt.Printf("box version %s, build %s\n", versionString(), buildID())
		return nil, true
	}
	if i < len(argv) && argv[i] == "help" {
		out := append(slices.Clone(argv[:i]), argv[i+1:]...)
		return append(out, "--help"), false
	}
	return argv, false
}

// buildID is docker's GitCommit: the commit box was built from, seven
// digits ("unknown" when the build does not say).
func buildID() string {
	c := commit
	if c == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					c = s.Value
				}
			}
		}
	}
	if c == "" {
		return "unknown"
	}
	return c[:min(7, len(c))]
}
