package events

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAppendRead(t *testing.T) {
	root := t.TempDir()
	Append(root, "container", "create", "abc", map[string]string{"name": "x", "image": "alpine"})
	old := NewReader(root, true)
	fresh := NewReader(root, false)
	Append(root, "volume", "create", "v", nil)
	got, err := old.Next()
	if err != nil || len(got) != 2 {
		t.Fatalf("from the start: %v, %v", got, err)
	}
	if got[0].Status != "create" || got[0].From != "alpine" || got[1].Type != "volume" || got[1].Status != "" {
		t.Errorf("events %+v", got)
	}
	if txt := got[0].Text(); !strings.HasSuffix(txt, " container create abc (image=alpine, name=x)") {
		t.Errorf("text %q", txt)
	}
	if got, _ := fresh.Next(); len(got) != 1 || got[0].Actor.ID != "v" {
		t.Errorf("from the end: %+v", got)
	}
	if got, _ := fresh.Next(); len(got) != 0 {
		t.Errorf("read twice: %+v", got)
	}
}

func TestTrim(t *testing.T) {
	maxSize = 4096
	defer func() { maxSize = 4 << 20 }()
	root := t.TempDir()
	r := NewReader(root, true)
	for i := range 200 {
		Append(root, "container", "start", fmt.Sprint(i), nil)
	}
	fi, err := os.Stat(filepath.Join(root, File))
	if err != nil || fi.Size() > 2*maxSize {
		t.Fatalf("not trimmed: %v %v", fi.Size(), err)
	}
	b, _ := os.ReadFile(filepath.Join(root, File))
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if !strings.HasPrefix(l, "{") || !strings.HasSuffix(l, "}") {
			t.Fatalf("a line cut: %q", l)
		}
	}
	// A reader past a trim goes on with what comes after it.
	r.Next()
	Append(root, "container", "die", "last", nil)
	got, _ := r.Next()
	if len(got) != 1 || got[0].Actor.ID != "last" {
		t.Errorf("after a trim: %+v", got)
	}
}

// TestAppendJSON: the hand-written encoder writes what encoding/json
// writes, escapes and all.
func TestAppendJSON(t *testing.T) {
	odd := []string{"", "plain", "quote\" back\\slash", "ctl\x00\x01\x1f\b\f\n\r\t", "<html>&", "\u2028\u2029", "bad\xff\xfeutf8", "üñí©ødé 日本", "\x7f"}
	for i, s := range odd {
		for _, e := range []Event{
			New("container", "exec_create: "+s, "id"+s, map[string]string{s: s, "name": "n", "image": s}),
			New("volume", s, s, nil),
			{Type: s, Action: s, Scope: s, Time: int64(i), TimeNano: -int64(i)},
		} {
			want, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.appendJSON(nil); string(got) != string(want) {
				t.Errorf("%q:\n got %s\nwant %s", s, got, want)
			}
		}
	}
}
