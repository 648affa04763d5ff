// Command box runs OCI containers as an unprivileged user, from one static binary.
//
// GOMAXPROCS follows the CPU affinity only, not the cgroup's CPU quota:
// reading the cgroup files costs every box process about 0.1 ms of its
// start-up (see package cli's doc for the trade-off).

//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"os"

	"github.com/box-run/box/cli"
	_ "github.com/box-run/box/cli/quick"         // a warm box shell enter, in its initialiser
	_ "github.com/box-run/box/internal/prefault" // maps box's code in one go, among the first initialisers
	"github.com/box-run/box/monitor"
	_ "github.com/box-run/box/run/pid1" // the "init" stage runs in its initialiser, before main
	"github.com/box-run/box/run/prestart"
	"github.com/box-run/box/stage"
)

// stages are the roles of a re-executed box (/proc/self/exe), chosen by the
// stage variable before any flag parsing: their argv is box's, not a user's.
var stages = map[string]stage.Func{
	// "init", the container's PID 1, never gets here: package run/pid1's
	// initialiser runs it before most of box's packages initialise (about
	// 110 initialisers instead of 190), and package run/prestart's
	// initialiser starts one ahead for box run, before its flags are parsed.
	// Go initialises a package as soon as its dependencies are, in import
	// path order, so some of box build's Dockerfile parser (moby/buildkit
	// and the protobuf runtime its error stacks use; protobuf's detrand
	// reads part of the executable) runs before init too: about 1.5 ms.
	"extract":  stage.Extract, // unpack a layer inside the store's user namespace
	"remove":   stage.Remove,  // delete trees only that namespace may delete
	"chown":    stage.Chown,   // give a build's cache mount to ids of that namespace
	"tar":      stage.Tar,     // write a layer tar of a store or container directory
	"merged":   stage.Merged,  // write the tar of layers stacked (box export)
	"diff":     stage.Diff,    // box diff: a container's upper directory against its layers
	"copy":     stage.Copy,    // box build's COPY, inside the store's user namespace
	"cp":       stage.Cp,      // box cp with a stopped container, its root stacked
	"cp-serve": stage.CpServe, // box cp's helper in a running container's init
	"probe":    stage.Probe,   // box info's user-namespace and overlay checks
	"monitor":  monitor.Serve, // keep a detached container (run -d, start)
}

func main() {
	if name, ok := stage.Current(); ok {
		os.Exit(stage.Run(name, stages))
	}
	code := cli.Main(os.Args[1:])
	prestart.Abort() // an init started ahead for a box run that did not use it
	os.Exit(code)
}
