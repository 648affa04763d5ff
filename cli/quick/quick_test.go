package quick

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/box-run/box/config"
	"github.com/box-run/box/run"
	"github.com/box-run/box/shell"
	"github.com/box-run/box/shell/dotfile"
)

func TestParse(t *testing.T) {
	t.Setenv("BOX_ROOT", "")
	t.Setenv("BOX_CONFIG", "")
	for _, tc := range []struct {
		argv []string
		want *request // nil: box shell's, not the quick enter's
	}{
		{[]string{"shell"}, &request{}},
		{[]string{"shell", "dev"}, &request{name: "dev"}},
		{[]string{"shell", "dev", "--", "ls", "-l"}, &request{name: "dev", cmd: []string{"ls", "-l"}}},
		{[]string{"shell", "--", "ls", "--", "x"}, &request{cmd: []string{"ls", "--", "x"}}},
		{[]string{"shell", "dev", "--"}, &request{name: "dev", cmd: []string{}}},
		{[]string{"--root", "/s", "shell", "dev"}, &request{root: "/s", name: "dev"}},
		{[]string{"--root=/s", "--config", "/c", "shell"}, &request{root: "/s", config: true}},
		{[]string{"shell", "--shared-wd", "dev", "--", "make"}, &request{name: "dev", cmd: []string{"make"}, sharedWd: true}},
		// The configuration names the store: box's to read.
		{[]string{"--config", "/c", "shell"}, nil},
		// Not the quick enter's.
		{[]string{"--debug", "shell"}, nil},
		{[]string{"-h", "shell"}, nil},
		{[]string{"shell", "--list"}, nil},
		{[]string{"shell", "--rm", "dev"}, nil},
		{[]string{"shell", "--devcontainer"}, nil},
		{[]string{"shell", "dev", "ls"}, nil}, // box shell's error to give
		{[]string{"shell", "../x"}, nil},
		{[]string{"shell", "-f"}, nil},
		{[]string{"run", "shell"}, nil},
		{[]string{"exec", "dev", "shell"}, nil},
		{nil, nil},
	} {
		got, ok := parse(tc.argv)
		switch {
		case tc.want == nil && ok:
			t.Errorf("parse(%q) took it: %+v", tc.argv, got)
		case tc.want != nil && !ok:
			t.Errorf("parse(%q) left it to box shell", tc.argv)
		case tc.want != nil && (got.root != tc.want.root || got.config != tc.want.config || got.name != tc.want.name ||
			!slices.Equal(got.cmd, tc.want.cmd) || got.sharedWd != tc.want.sharedWd):
			t.Errorf("parse(%q) = %+v, want %+v", tc.argv, got, *tc.want)
		}
	}
	// BOX_ROOT names the store; BOX_CONFIG a configuration, which --root
	// outranks.
	t.Setenv("BOX_ROOT", "/env")
	if got, ok := parse([]string{"shell"}); !ok || got.root != "/env" {
		t.Errorf("with BOX_ROOT: %+v %v", got, ok)
	}
	if got, ok := parse([]string{"--root", "/flag", "shell"}); !ok || got.root != "/flag" {
		t.Errorf("--root and BOX_ROOT: %+v %v", got, ok)
	}
	t.Setenv("BOX_ROOT", "")
	t.Setenv("BOX_CONFIG", "/c")
	if _, ok := parse([]string{"shell"}); ok {
		t.Error("took an enter whose store BOX_CONFIG's file names")
	}
}

// TestRecord: what warm reads of a container's record is what package run
// wrote.
func TestRecord(t *testing.T) {
	now := time.Now().UTC().Round(time.Millisecond)
	ct := run.Container{ID: run.NewID(), Name: "shell-dev", Status: "running", Started: now, Pid: 7, PidStart: 8,
		Monitor: 9, MonStart: 10, BootID: "boot"}
	b, err := json.Marshal(ct)
	if err != nil {
		t.Fatal(err)
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	want := record{ID: ct.ID, Status: "running", Started: now, Pid: 7, PidStart: 8, Monitor: 9, MonStart: 10, BootID: "boot"}
	if r != want {
		t.Errorf("read %+v, want %+v", r, want)
	}
}

func TestHashOf(t *testing.T) {
	b := []byte("image = \"alpine\"\n")
	if hashOf(b) != config.HashOf(b) {
		t.Error("the quick enter hashes a dotfile otherwise than package config")
	}
}

func TestConfigured(t *testing.T) {
	dir := t.TempDir()
	files := []string{filepath.Join(dir, "system.toml"), filepath.Join(dir, "user.toml")}
	if configured(files) {
		t.Error("configured without a file")
	}
	os.WriteFile(files[1], nil, 0o644)
	if !configured(files) {
		t.Error("not configured with a file")
	}
	// A file that cannot be looked at may exist.
	if !configured([]string{filepath.Join(files[1], "x")}) {
		t.Error("an unreadable place counts as no file")
	}
}

// TestFind: the quick enter finds the shell and dotfile package dotfile
// finds.
func TestFind(t *testing.T) {
	root := t.TempDir()
	conf := filepath.Join(root, "conf")
	ss := shell.Store{Dir: filepath.Join(root, "shells")}
	proj := filepath.Join(root, "my proj")
	sub := filepath.Join(proj, "a", "b")
	os.MkdirAll(sub, 0o755)
	os.MkdirAll(filepath.Join(conf, "shells"), 0o755)
	os.WriteFile(filepath.Join(proj, shell.ProjectFile), []byte("image = \"x\"\n"), 0o644)
	os.WriteFile(filepath.Join(conf, "shells", "dev.toml"), []byte("image = \"y\"\n"), 0o644)
	// A shell made from a project, named by box shell in it.
	ss.Save(&shell.State{Name: "made", Dotfile: filepath.Join(proj, shell.ProjectFile)})
	for _, tc := range []struct{ name, wd string }{
		{"", sub},
		{"", root},
		{"dev", sub},
		{"made", root},
		{"other", root},
		{"", filepath.Join(root, "conf")},
	} {
		st, _ := ss.Load(tc.name)
		var d *dotfile.Dotfile
		var err error
		if tc.name == "" {
			d, err = dotfile.Find("", tc.wd, conf)
		} else {
			d, err = dotfile.Recorded(tc.name, st, conf)
		}
		if err != nil {
			t.Fatal(err)
		}
		name, path, ok := find(tc.name, tc.wd, conf, ss)
		if _, err := ss.Load(d.Name); !ok && err != nil && d.Path() == "" {
			continue // no dotfile and no record: box shell makes the shell
		}
		if !ok || name != d.Name || path != d.Path() {
			t.Errorf("find(%q, %s) = %q, %q, %v; package dotfile: %q, %q", tc.name, tc.wd, name, path, ok, d.Name, d.Path())
		}
	}
}
