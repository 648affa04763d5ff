package dotfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/box-run/box/config"
	"github.com/box-run/box/shell"
)

func TestWorkspace(t *testing.T) {
	for _, tc := range []struct {
		project, workdir, dir, volume string
	}{
		{"/home/u/p", "", "/home/u/p", ""}, // the home shares it already
		{"/home/u/p", "/workspaces/p", "/workspaces/p", "/home/u/p:/workspaces/p"},
		{"/srv/p", "", "/srv/p", "/srv/p:/srv/p"}, // outside the home
	} {
		dir, vol := Workspace(&config.ShellFile{Project: tc.project, Workdir: tc.workdir}, "/home/u")
		if dir != tc.dir || vol != tc.volume {
			t.Errorf("Workspace(%s, %q) = %q, %q; want %q, %q", tc.project, tc.workdir, dir, vol, tc.dir, tc.volume)
		}
	}
}

func TestFindDevContainer(t *testing.T) {
	root := t.TempDir()
	proj := filepath.Join(root, "My Proj")
	os.MkdirAll(filepath.Join(proj, ".devcontainer"), 0o755)
	os.MkdirAll(filepath.Join(proj, "src", "deep"), 0o755)
	os.WriteFile(filepath.Join(proj, ".devcontainer", "devcontainer.json"), []byte(`{"image": "debian" /* c */,}`), 0o644)
	d, err := FindDevContainer("", filepath.Join(proj, "src", "deep"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "My-Proj" || d.File.Project != proj || d.File.Image != "debian" {
		t.Errorf("found %q, project %q, image %q", d.Name, d.File.Project, d.File.Image)
	}
	// The record names the file: a command naming the shell finds it.
	st := &shell.State{Name: d.Name, Dotfile: d.Path()}
	r, err := Recorded(d.Name, st, filepath.Join(root, "config"))
	if err != nil || r.Hash() != d.Hash() {
		t.Errorf("Recorded: %v, hash %q want %q", err, r.Hash(), d.Hash())
	}
	// A project's folder, relative to wd.
	if d, err := FindDevContainer("My Proj", root); err != nil || d.Name != "My-Proj" {
		t.Errorf("FindDevContainer of the folder: %v", err)
	}
	if _, err := FindDevContainer(".", root); err == nil {
		t.Error("found a devcontainer.json in a folder without one")
	}
	if _, err := FindDevContainer("", root); err == nil {
		t.Error("found a devcontainer.json where there is none")
	}
}

func TestFind(t *testing.T) {
	root := t.TempDir()
	sub := filepath.Join(root, "my proj", "a", "b")
	os.MkdirAll(sub, 0o755)
	os.WriteFile(filepath.Join(root, "my proj", shell.ProjectFile), []byte("image = \"x\"\n"), 0o644)
	d, err := Find("", sub, filepath.Join(root, "conf"))
	if err != nil || d.Name != "my-proj" || d.File == nil {
		t.Fatalf("%+v %v", d, err)
	}
	d, err = Find("", root, filepath.Join(root, "conf"))
	if err != nil || d.Name != shell.DefaultName || d.File != nil {
		t.Fatalf("%+v %v", d, err)
	}
	if _, err := Find("../x", root, root); err == nil {
		t.Error("a bad name was taken")
	}
}
