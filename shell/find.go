package shell

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultName is the shell box shell enters when no name is given and the
// working directory is in no project.
const DefaultName = "default"

// ProjectFile is a project's shell dotfile, at its root.
const ProjectFile = "box.toml"

// CheckName accepts a shell name: its container is "shell-NAME".
func CheckName(n string) error {
	if n == "" || strings.Trim(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != "" || n[0] == '.' || n[0] == '-' {
		return fmt.Errorf("invalid shell name %q: use letters, digits, '_', '.' and '-'", n)
	}
	return nil
}

// SafeName turns a directory's name into a shell name: each run of other
// characters (a UTF-8 letter's bytes among them) becomes one '-', and a
// leading '.' or '-' goes ("Über" is "ber", "my app" "my-app").
func SafeName(s string) string {
	return safe(s, func(c byte) bool { return c == '_' || c == '.' }, DefaultName)
}

// Hostname is the hostname a shell gets when its dotfile names none: its
// name with what RFC 1123 refuses ('_', '.', other characters) made '-',
// at most 63 characters ("my_dev" is "my-dev").
func Hostname(name string) string {
	h := safe(name, func(byte) bool { return false }, DefaultName)
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-")
	}
	return h
}

// safe keeps ASCII letters, digits and what also allows, makes each run of
// anything else one '-', and trims '-' and '.' from the ends; empty is
// fallback.
func safe(s string, also func(byte) bool, fallback string) string {
	var b strings.Builder
	dash := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || also(c) {
			b.WriteByte(c)
			dash = c == '-'
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	if r := strings.Trim(b.String(), ".-"); r != "" {
		return r
	}
	return fallback
}

// ContainerName is the name of a shell's container.
func ContainerName(shell string) string { return "shell-" + shell }

// ConfigDir is box's config directory: $XDG_CONFIG_HOME/box, or ~/.config/box.
func ConfigDir(home string) string {
	if d := os.Getenv("XDG_CONFIG_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "box")
	}
	return filepath.Join(home, ".config", "box")
}
