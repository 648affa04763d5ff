package quick

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/box-run/box/config"
	"github.com/box-run/box/run"
	"github.com/box-run/box/shell"
	"github.com/box-run/box/shell/dotfile"
)

func TestGlobals(t *testing.T) {
	t.Setenv("BOX_ROOT", "")
	t.Setenv("BOX_CONFIG", "")
	for _, tc := range []struct {
		argv []string
		cmd  string
		rest []string
		st   store
		ok   bool
	}{
		{[]string{"shell"}, "shell", []string{}, store{}, true},
		{[]string{"--root", "/s", "shell", "dev"}, "shell", []string{"dev"}, store{root: "/s"}, true},
		{[]string{"--root=/s", "--config", "/c", "exec", "c", "ls"}, "exec", []string{"c", "ls"}, store{root: "/s", config: true}, true},
		// The configuration names the store: box's to read.
		{[]string{"--config", "/c", "shell"}, "", nil, store{}, false},
		{[]string{"--debug", "shell"}, "", nil, store{}, false},
		{[]string{"-h", "shell"}, "", nil, store{}, false},
		{nil, "", nil, store{}, false},
	} {
		cmd, rest, st, ok := globals(tc.argv)
		if ok != tc.ok || ok && (cmd != tc.cmd || !slices.Equal(rest, tc.rest) || st != tc.st) {
			t.Errorf("globals(%q) = %q %q %+v %v", tc.argv, cmd, rest, st, ok)
		}
	}
	// BOX_ROOT names the store; BOX_CONFIG a configuration, which --root
	// outranks.
	t.Setenv("BOX_ROOT", "/env")
	if _, _, st, ok := globals([]string{"shell"}); !ok || st.root != "/env" {
		t.Errorf("with BOX_ROOT: %+v %v", st, ok)
	}
	if _, _, st, ok := globals([]string{"--root", "/flag", "shell"}); !ok || st.root != "/flag" {
		t.Errorf("--root and BOX_ROOT: %+v %v", st, ok)
	}
	t.Setenv("BOX_ROOT", "")
	t.Setenv("BOX_CONFIG", "/c")
	if _, _, _, ok := globals([]string{"shell"}); ok {
		t.Error("took a command whose store BOX_CONFIG's file names")
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		rest []string
		want *request // nil: box shell's, not the quick enter's
	}{
		{nil, &request{}},
		{[]string{"dev"}, &request{name: "dev"}},
		{[]string{"dev", "--", "ls", "-l"}, &request{name: "dev", cmd: []string{"ls", "-l"}}},
		{[]string{"--", "ls", "--", "x"}, &request{cmd: []string{"ls", "--", "x"}}},
		{[]string{"dev", "--"}, &request{name: "dev", cmd: []string{}}},
		{[]string{"--shared-wd", "dev", "--", "make"}, &request{name: "dev", cmd: []string{"make"}, sharedWd: true}},
		{[]string{"--list"}, nil},
		{[]string{"--rm", "dev"}, nil},
		{[]string{"--devcontainer"}, nil},
		{[]string{"dev", "ls"}, nil}, // box shell's error to give
		{[]string{"../x"}, nil},
		{[]string{"-f"}, nil},
	} {
		got, ok := parse(tc.rest)
		switch {
		case tc.want == nil && ok:
			t.Errorf("parse(%q) took it: %+v", tc.rest, got)
		case tc.want != nil && !ok:
			t.Errorf("parse(%q) left it to box shell", tc.rest)
		case tc.want != nil && (got.name != tc.want.name || !slices.Equal(got.cmd, tc.want.cmd) || got.sharedWd != tc.want.sharedWd):
			t.Errorf("parse(%q) = %+v, want %+v", tc.rest, got, *tc.want)
		}
	}
}

func TestParseExec(t *testing.T) {
	for _, tc := range []struct {
		rest []string
		want *execRequest // nil: box exec's
	}{
		{[]string{"c", "ls"}, &execRequest{container: "c", args: []string{"ls"}}},
		{[]string{"-it", "c", "sh", "-c", "x"}, &execRequest{interactive: true, tty: true, container: "c", args: []string{"sh", "-c", "x"}}},
		{[]string{"-i", "-t", "-d", "c", "ls"}, &execRequest{interactive: true, tty: true, detach: true, container: "c", args: []string{"ls"}}},
		{[]string{"--interactive", "--tty", "c", "ls", "-e", "x"}, &execRequest{interactive: true, tty: true, container: "c", args: []string{"ls", "-e", "x"}}},
		{[]string{"-e", "A=1", "--env", "B", "--env=C=3", "-w", "/w", "--user=1:2", "c", "ls"},
			&execRequest{env: []string{"A=1", "B", "C=3"}, workdir: "/w", user: "1:2", container: "c", args: []string{"ls"}}},
		{[]string{"--env-file", "/e", "--env-file=/f", "c", "ls"}, &execRequest{envFiles: []string{"/e", "/f"}, container: "c", args: []string{"ls"}}},
		{[]string{"--env-file", "rel", "c", "ls"}, nil},
		{[]string{"-eA=1", "c", "ls"}, nil},
		{[]string{"-e=A=1", "c", "ls"}, nil},
		{[]string{"-e", "-x", "c", "ls"}, nil},
		{[]string{"-e"}, nil},
		{[]string{"--privileged", "c", "ls"}, nil},
		{[]string{"-ix", "c", "ls"}, nil},
		{[]string{"--", "c", "ls"}, nil},
		{[]string{"c"}, nil},
		{[]string{"-h"}, nil},
	} {
		got, ok := parseExec(tc.rest)
		switch {
		case tc.want == nil && ok:
			t.Errorf("parseExec(%q) took it: %+v", tc.rest, got)
		case tc.want != nil && !ok:
			t.Errorf("parseExec(%q) left it to box exec", tc.rest)
		case tc.want != nil && (got.interactive != tc.want.interactive || got.tty != tc.want.tty || got.detach != tc.want.detach ||
			!slices.Equal(got.env, tc.want.env) || !slices.Equal(got.envFiles, tc.want.envFiles) || got.workdir != tc.want.workdir ||
			got.user != tc.want.user || got.container != tc.want.container || !slices.Equal(got.args, tc.want.args)):
			t.Errorf("parseExec(%q) = %+v, want %+v", tc.rest, got, *tc.want)
		}
	}
}

// TestRecord: what warm reads of a container's record is what package run
// wrote.
func TestRecord(t *testing.T) {
	now := time.Now().UTC().Round(time.Millisecond)
	ct := run.Container{ID: run.NewID(), Name: "shell-dev", Image: "alpine", Status: "running", Started: now, Pid: 7, PidStart: 8,
		Monitor: 9, MonStart: 10, BootID: "boot", Labels: map[string]string{"a": "b"}}
	b, err := json.Marshal(ct)
	if err != nil {
		t.Fatal(err)
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	want := record{ID: ct.ID, Status: "running", Started: now, Pid: 7, PidStart: 8, Monitor: 9, MonStart: 10, BootID: "boot",
		Name: "shell-dev", Image: "alpine", Labels: map[string]string{"a": "b"}}
	if !reflect.DeepEqual(r, want) {
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
	// A shell made from a project, named by box shell in it; and the
	// default shell, made from a project folder named "default".
	ss.Save(&shell.State{Name: "made", Dotfile: filepath.Join(proj, shell.ProjectFile)})
	ss.Save(&shell.State{Name: "default", Dotfile: filepath.Join(root, "default", shell.ProjectFile)})
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
