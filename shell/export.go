package shell

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// An export makes a shell's command or desktop app start from the host: a
// script in ~/.local/bin or a desktop entry in the applications directory,
// each running box shell NAME -- …, so the command runs in the shell with
// the caller's working directory, stdio, terminal and exit status. Each
// file carries a marker line naming the shell, and box overwrites or
// removes only files with its marker: a user's own script of the same name
// is left alone.

// exportMarker starts the line that marks a file box exported.
const exportMarker = "# Written by box export for shell "

// BinDir is where exported commands go: ~/.local/bin.
func BinDir(home string) string { return filepath.Join(home, ".local", "bin") }

// AppDir is where exported desktop entries go: $XDG_DATA_HOME/applications,
// or ~/.local/share/applications.
func AppDir(home string) string {
	if d := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "applications")
	}
	return filepath.Join(home, ".local", "share", "applications")
}

// CheckCommand accepts an exported command: a name, or a path in the
// shell whose last element names the script.
func CheckCommand(cmd string) error {
	base := filepath.Base(cmd)
	if cmd == "" || strings.HasSuffix(cmd, "/") || base[0] == '.' || base[0] == '-' || strings.ContainsAny(cmd, "\x00\n") ||
		(strings.Contains(cmd, "/") && !filepath.IsAbs(cmd)) {
		return fmt.Errorf("invalid command %q: name a command on the shell's PATH or give its absolute path", cmd)
	}
	return nil
}

// AppFile is the name of the desktop entry box exports for app (NAME or
// NAME.desktop) of shell name.
func AppFile(name, app string) string {
	return "box-" + name + "-" + strings.TrimSuffix(app, ".desktop") + ".desktop"
}

// BinScript is the script that runs cmd in shell name with box, the
// absolute path of the box binary. --shared-wd: the command runs in the
// caller's working directory or not at all (an exported rm or make must
// not run in the home instead). Run inside the shell itself (the home,
// and so ~/.local/bin, is shared, and often on PATH there), it runs the
// shell's own cmd (findCommand).
func BinScript(box, name, cmd string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "#!/bin/sh\n%s%s; box unexport %s --bin %s removes it.\n", exportMarker, name, name, filepath.Base(cmd))
	fmt.Fprintf(&b, "if [ \"${BOX_SHELL-}\" = %s ] && [ -d %s ]; then\n", shQuote(name), RunMount)
	findCommand(&b, cmd, `exec "$c" "$@"`)
	fmt.Fprintf(&b, "\techo %s >&2\n\texit 127\n", shQuote(filepath.Base(cmd)+": not found in shell "+name))
	fmt.Fprintf(&b, "fi\nexec %s shell --shared-wd %s -- %s \"$@\"\n", shQuote(box), shQuote(name), shQuote(cmd))
	return b.Bytes()
}

// CommandCheck is the command (for Command, after the enter hooks, which
// may change PATH) that exits 0 when cmd is there to run in the shell as
// its exported script would find it, else 127.
func CommandCheck(cmd string) []string {
	var b bytes.Buffer
	findCommand(&b, cmd, "exit 0")
	b.WriteString("\texit 127\n")
	return []string{"/bin/sh", "-c", b.String(), "sh"}
}

// findCommand writes the sh lines that run found, with $c set, when cmd
// is an executable file in the shell: its path, or the first on PATH
// that is neither the script running nor another box export wrote (a
// link to one in another PATH directory would run them in turn for
// ever).
func findCommand(b *bytes.Buffer, cmd, found string) {
	if filepath.IsAbs(cmd) {
		fmt.Fprintf(b, "\tc=%s\n\tif [ -f \"$c\" ] && [ -x \"$c\" ]; then\n\t\t%s\n\tfi\n", shQuote(cmd), found)
		return
	}
	fmt.Fprintf(b, "\tset -f\n\tIFS=:\n\tfor d in $PATH; do\n\t\tc=\"${d:-.}\"/%s\n", shQuote(cmd))
	fmt.Fprintf(b, "\t\tif [ -n \"$d\" ] && [ -f \"$c\" ] && [ -x \"$c\" ] && ! [ \"$c\" -ef \"$0\" ] && ! grep -qs %s \"$c\"; then\n", shQuote("^"+exportMarker))
	fmt.Fprintf(b, "\t\t\tunset IFS\n\t\t\tset +f\n\t\t\t%s\n\t\tfi\n\tdone\n", found)
}

// DesktopEntry rewrites entry, app's desktop entry in the shell, for
// the host: its Exec runs in shell name with box; what would start it
// another way (D-Bus activation, TryExec, actions) is left out.
func DesktopEntry(box, name, app string, entry []byte) ([]byte, error) {
	keep := map[string]bool{"Name": true, "GenericName": true, "Comment": true, "Icon": true, "Terminal": true,
		"Categories": true, "MimeType": true, "Keywords": true, "StartupNotify": true, "StartupWMClass": true}
	var out bytes.Buffer
	fmt.Fprintf(&out, "%s%s; box unexport %s --app %s removes it.\n[Desktop Entry]\nType=Application\n", exportMarker, name, name, app)
	var exec, appName string
	group := ""
	sc := bufio.NewScanner(bytes.NewReader(entry))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			group = line
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if group != "[Desktop Entry]" || !ok || strings.HasPrefix(line, "#") {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		base, _, _ := strings.Cut(k, "[") // Name[de]: a translation
		switch {
		case k == "Exec":
			exec = v
		case k == "Name":
			appName = v
			fmt.Fprintf(&out, "Name=%s (%s)\n", v, name)
		case base == "Name":
			fmt.Fprintf(&out, "%s=%s (%s)\n", k, v, name)
		case keep[base]:
			fmt.Fprintf(&out, "%s=%s\n", k, v)
		}
	}
	if exec == "" || appName == "" {
		return nil, errors.New("it has no Name or Exec in its [Desktop Entry]")
	}
	// The Exec key's own quoting: reserved characters in double quotes.
	fmt.Fprintf(&out, "Exec=%s shell %s -- %s\nX-Box-Shell=%s\n", desktopQuote(box), desktopQuote(name), exec, name)
	return out.Bytes(), nil
}

// Exported tells which shell the file at path was exported for: "" and
// false when it is not box's (or not there: fs.ErrNotExist).
func Exported(path string) (shell string, ok bool, err error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return "", false, err
	}
	if !fi.Mode().IsRegular() || fi.Size() > 1<<20 {
		return "", false, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", false, err
	}
	lines := strings.SplitN(string(b), "\n", 3)
	for _, line := range lines[:min(2, len(lines))] {
		if rest, ok := strings.CutPrefix(line, exportMarker); ok {
			name, _, _ := strings.Cut(rest, ";")
			return name, true, nil
		}
	}
	return "", false, nil
}

// WriteExport writes data to path (mode perm) for shell name, unless a
// file box did not write, or wrote for another shell, is there.
func WriteExport(path, name string, data []byte, perm fs.FileMode) error {
	if err := CheckWritable(path, name); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".box-tmp")
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	if err := os.Chmod(tmp, perm); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// CheckWritable reports whether WriteExport may write path for shell
// name: nil when it is not there, or is name's export.
func CheckWritable(path, name string) error {
	if err := checkOwn(path, name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// RemoveExport removes the file at path that box exported for shell name.
func RemoveExport(path, name string) error {
	if err := checkOwn(path, name); err != nil {
		return err
	}
	return os.Remove(path)
}

func checkOwn(path, name string) error {
	shell, ok, err := Exported(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &os.PathError{Op: "export", Path: path, Err: fs.ErrNotExist}
	case err != nil:
		return err
	case !ok:
		return fmt.Errorf("%s was not written by box export: leaving it alone", path)
	case shell != name:
		return fmt.Errorf("%s is shell %s's export, not shell %s's", path, shell, name)
	}
	return nil
}

// shQuote quotes s for sh.
func shQuote(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+=:,@%", r))
	}) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// desktopQuote quotes an argument of a desktop entry's Exec key.
func desktopQuote(s string) string {
	if !strings.ContainsAny(s, " \t\n\"'\\><~|&;$*?#()`%") {
		return s
	}
	r := strings.NewReplacer(`"`, `\"`, "`", "\\`", `$`, `\$`, `\`, `\\`, `%`, `%%`)
	return `"` + r.Replace(s) + `"`
}
