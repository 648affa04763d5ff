package main

import "github.com/box-run/box/run/pid1"

// closeOnExecFrom3 keeps descriptors the caller left open from reaching
// anything box executes (see pid1.CloseOnExecFrom3; the init stage calls
// it itself, before main).
func closeOnExecFrom3() { pid1.CloseOnExecFrom3() }
