package cli

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/box-run/box/run/proto"
)

func TestParseDetachKeys(t *testing.T) {
	for s, want := range map[string][]byte{"ctrl-p,ctrl-q": {16, 17}, "ctrl-a,x": {1, 'x'}, "ctrl-@": {0}, "ctrl-_": {31}, "q": {'q'}} {
		got, err := parseDetachKeys(s)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%q: %v, %v; want %v", s, got, err, want)
		}
	}
	for _, bad := range []string{"", "ctrl-1", "ctrl-", "ab", "ctrl-p,", "alt-x"} {
		if _, err := parseDetachKeys(bad); err == nil {
			t.Errorf("%q taken", bad)
		}
	}
}

// copyInput sends what is typed, holding back a partial detach sequence
// until it turns out to be none, and stops at the whole sequence.
func TestCopyInputDetach(t *testing.T) {
	for _, c := range []struct {
		in, sent string
		detached bool
	}{
		{"ab\x10\x11cd", "ab", true},
		{"a\x10b\x10\x10\x11", "a\x10b\x10", true},
		{"plain", "plain", false},
		{"a\x10", "a", false}, // held back, and the input ended
	} {
		local, remote := net.Pipe()
		got := make(chan string)
		go func() {
			var b strings.Builder
			var buf []byte
			for {
				kind, p, err := proto.ReadAttachFrame(remote, buf)
				if err != nil {
					break
				}
				if kind == proto.AttachInput {
					b.Write(p)
				}
			}
			got <- b.String()
		}()
		detached := copyInput(local, io.NopCloser(strings.NewReader(c.in)), []byte{16, 17}, true)
		local.Close()
		if sent := <-got; sent != c.sent || detached != c.detached {
			t.Errorf("%q: sent %q, detached %v; want %q, %v", c.in, sent, detached, c.sent, c.detached)
		}
	}
}
