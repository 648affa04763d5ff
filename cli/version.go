package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
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
