package main

import (
	"os"

	"github.com/rogpeppe/go-internal/testscript"
)

// ciSpec is the CDI spec of the CI's fake GPUs, which .ci/cdi makes as
// root: their nodes (mknod) and spec cannot be made by the tests' users.
const ciSpec = "/etc/cdi/boxci-fake-gpu.yaml"

// cmdCDIReady fails unless the CI's fake GPUs are there: the test that
// finds CDI specs in the default directories needs them, and is never
// skipped.
func cmdCDIReady(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: cdi-ready")
	}
	fi, err := os.Stat("/dev/boxci-gpu0")
	if _, serr := os.Stat(ciSpec); serr != nil || err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		ts.Fatalf("no fake GPUs (%s, /dev/boxci-gpu0): the CDI test needs those of .ci/cdi (sudo bash .ci/cdi, which .ci/run runs)", ciSpec)
	}
}
