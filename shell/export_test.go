package shell

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestBinScript(t *testing.T) {
	dir := t.TempDir()
	// A stand-in for box that prints its arguments, one a line.
	fake := filepath.Join(dir, "my box")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\nprintf '%s\\n' \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "tool")
	if err := WriteExport(script, "dev", BinScript(fake, "dev", "/opt/it's/tool"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(script, "a b", "$HOME").Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := "shell\n--shared-wd\ndev\n--\n/opt/it's/tool\na b\n$HOME\n"; string(out) != want {
		t.Errorf("the script ran box with %q, want %q", out, want)
	}
	if shell, ok, err := Exported(script); shell != "dev" || !ok || err != nil {
		t.Errorf("Exported = %q, %v, %v", shell, ok, err)
	}
	if err := WriteExport(script, "other", []byte("x"), 0o755); err == nil || !strings.Contains(err.Error(), "is shell dev's export, not shell other's") {
		t.Errorf("overwriting another shell's export: %v", err)
	}
	if err := RemoveExport(script, "dev"); err != nil {
		t.Fatal(err)
	}
}

func TestExportLeavesOthersAlone(t *testing.T) {
	dir := t.TempDir()
	mine := filepath.Join(dir, "mine")
	os.WriteFile(mine, []byte("#!/bin/sh\n# Written by me, not box export for shell dev\n"), 0o755)
	os.Symlink(mine, filepath.Join(dir, "link"))
	for _, p := range []string{mine, filepath.Join(dir, "link")} {
		if err := WriteExport(p, "dev", []byte("x"), 0o755); err == nil || !strings.Contains(err.Error(), "not written by box export") {
			t.Errorf("WriteExport over %s: %v", p, err)
		}
		if err := RemoveExport(p, "dev"); err == nil {
			t.Errorf("RemoveExport removed %s", p)
		}
	}
	if b, _ := os.ReadFile(mine); !strings.Contains(string(b), "Written by me") {
		t.Errorf("mine changed: %q", b)
	}
}

func TestDesktopEntry(t *testing.T) {
	out, err := DesktopEntry("/opt/my box/box", "dev", "org.x.Edit", []byte(`[Desktop Entry]
Type=Application
Name=Edit
Name[fr]=Éditer
Comment=Edit text
Exec=edit --new %U
TryExec=edit
Icon=org.x.Edit
DBusActivatable=true
Actions=new;

[Desktop Action new]
Name=New window
Exec=edit --window
`))
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	for _, want := range []string{
		"# Written by box export for shell dev; box unexport dev --app org.x.Edit removes it.\n[Desktop Entry]\n",
		"\nName=Edit (dev)\n", "\nName[fr]=Éditer (dev)\n", "\nComment=Edit text\n", "\nIcon=org.x.Edit\n",
		"\nExec=\"/opt/my box/box\" shell dev -- edit --new %U\n", "\nX-Box-Shell=dev\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("entry lacks %q:\n%s", want, got)
		}
	}
	for _, not := range []string{"TryExec", "DBusActivatable", "Actions", "New window"} {
		if strings.Contains(got, not) {
			t.Errorf("entry has %q:\n%s", not, got)
		}
	}
	if _, err := DesktopEntry("/b", "dev", "x", []byte("[Desktop Entry]\nName=X\n")); err == nil {
		t.Error("an entry without Exec was accepted")
	}
}

func TestCheckCommand(t *testing.T) {
	for cmd, ok := range map[string]bool{"htop": true, "/usr/bin/htop": true, "": false, "bin/htop": false, ".x": false, "-x": false, "/usr/bin/": false} {
		if err := CheckCommand(cmd); (err == nil) != ok {
			t.Errorf("CheckCommand(%q) = %v", cmd, err)
		}
	}
}
