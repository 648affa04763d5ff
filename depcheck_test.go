package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLeafPackagesStayLeaves keeps the design's layering: config, userns,
// fuseoverlay, the image store and extraction never import one another; run
// and main compose them.
func TestLeafPackagesStayLeaves(t *testing.T) {
	leaves := []string{"config", "userns", "fuseoverlay", "slirp", "image", "image/extract"}
	const mod = "github.com/box-run/box/"
	for _, leaf := range leaves {
		out, err := exec.Command("go", "list", "-deps", "./"+leaf).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", leaf, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			other, ok := strings.CutPrefix(dep, mod)
			if !ok || other == leaf {
				continue
			}
			t.Errorf("%s imports %s: leaves must not import each other (compose them in run or main)", leaf, other)
		}
	}
}
