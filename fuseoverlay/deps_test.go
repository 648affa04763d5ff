package fuseoverlay

import (
	"fmt"
	"go/parser"
	"go/token"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestLeaf keeps the package a leaf: its non-test files import no other
// box package (run composes the leaves).
func TestLeaf(t *testing.T) {
	// This file's directory, wherever the test binary runs from.
	_, self, _, _ := runtime.Caller(0)
	files, err := filepath.Glob(filepath.Join(filepath.Dir(self), "*.go"))
	if err == nil && len(files) == 0 {
		err = fmt.Errorf("no Go files next to %s", self)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); strings.HasPrefix(p, "github.com/box-run/box") {
				t.Errorf("%s imports %s", f, p)
			}
		}
	}
}
