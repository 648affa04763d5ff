package build

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/box-run/box/image"
)

// TestParseErrors checks that a Dockerfile buildkit's parser refuses is
// reported as FILE:LINE: MESSAGE, before any step runs, and that a
// missing --target names the Dockerfile.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"FROM scratch\nLABEL a=b\nENV =x\n", "Dockerfile.x:3: ENV names can not be blank"},
		{"FROM scratch\nCOPY <<EOF /x\nnever ends\n", "Dockerfile.x:2: unterminated heredoc"},
		{"FROM scratch\nRUN --frob=1 true\n", "Dockerfile.x:2: unknown flag: --frob"},
	} {
		_, err := Build(context.Background(), Options{Dockerfile: []byte(tc.text), File: "Dockerfile.x"})
		if err == nil || err.Error() != tc.want {
			t.Errorf("Build(%q): %v; want %q", tc.text, err, tc.want)
		}
	}
	_, err := Build(context.Background(), Options{Dockerfile: []byte("FROM scratch AS a\n"), File: "Dockerfile.x", Target: "nope"})
	if want := `Dockerfile.x: target stage "nope" not found`; err == nil || err.Error() != want {
		t.Errorf("--target nope: %v; want %q", err, want)
	}
}

// TestHealthcheckStartInterval: --start-interval is refused at its line, not
// dropped (the config box writes has no field for it).
func TestHealthcheckStartInterval(t *testing.T) {
	st, err := image.Open(image.Options{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Build(context.Background(), Options{Store: st, Dockerfile: []byte("FROM scratch\nHEALTHCHECK --start-interval=1s CMD true\n"), File: "Dockerfile.x", Out: io.Discard})
	if want := "Dockerfile.x:2: HEALTHCHECK --start-interval is not supported"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Build: %v; want %q…", err, want)
	}
}
