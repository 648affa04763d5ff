package slirp

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestFirstFrame: Serve builds no netstack until the TAP has a frame, and
// stops waiting when its context is done (a pipe stands in for the TAP).
func TestFirstFrame(t *testing.T) {
	for _, c := range []struct {
		name   string
		frame  bool // write to the pipe
		cancel bool // cancel the context
		want   bool
	}{
		{"frame", true, false, true},
		{"cancelled", false, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			defer w.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			got := make(chan bool, 1)
			go func() { got <- firstFrame(ctx, int(r.Fd())) }()
			select {
			case v := <-got:
				t.Fatalf("firstFrame returned %v before there was a frame or a cancel", v)
			case <-time.After(50 * time.Millisecond):
			}
			if c.frame {
				w.Write([]byte{0})
			}
			if c.cancel {
				cancel()
			}
			select {
			case v := <-got:
				if v != c.want {
					t.Errorf("firstFrame = %v, want %v", v, c.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("firstFrame did not return")
			}
		})
	}
}
