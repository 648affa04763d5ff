package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// ShellFile is a box shell dotfile: ~/.config/box/shells/NAME.toml, or a
// project's box.toml. Errors name its file and line as box's config does.
type ShellFile struct {
	Path     string            // the file, absolute
	Hash     string            // sha256 of its bytes: a changed file is a changed shell
	Name     string            // name: a project shell's name ("" = its directory's)
	Image    string            // image
	Packages []string          // packages, installed with the image's package manager
	Create   []string          // create: run once, at creation, as root
	Start    []string          // start: run at every start of the container, as root
	Enter    []string          // enter: run at every enter, as the user
	Env      map[string]string // env
	Volumes  []string          // volumes: HOST:CONTAINER[:ro]
	Share    map[string]bool   // share: host integrations turned on or off
	Hostname string            // hostname ("" = the shell's name)
	Shell    string            // shell: the command an enter runs ("" = the user's login shell)

	// Set from a devcontainer.json only (ParseDevContainer):
	Project string // the project's folder (localWorkspaceFolder)
	Workdir string // workspaceFolder: where the shell sees the project ("" = at its own path)
	User    string // remoteUser: the name an enter runs as, with the caller's uid ("" = the caller's)
	// onCreateCommand, updateContentCommand and postCreateCommand: argvs
	// run once, at creation, as the user, in that order (the spec's).
	UserOnCreate, UserUpdate, UserCreate [][]string
	UserStart                            [][]string // postStartCommand: argvs run at every start, as the user
	// Build is devcontainer.json's build: the image is box build's of it
	// (Image is then the name it is tagged with).
	Build *ShellBuild
}

// ShellBuild is a Dockerfile build that makes a shell's image.
type ShellBuild struct {
	Dockerfile string            // absolute
	Context    string            // absolute
	Args       map[string]string // build arguments
	Target     string            // the stage to build ("" = the last)
}

// ShareKeys are the host integrations a shell's share table may name, and
// whether each is on when it does not.
var ShareKeys = map[string]bool{
	"ssh-agent": true,
	"wayland":   true,
	"x11":       true,
	"dbus":      true,
	"audio":     true,
	"dri":       true,
	"gpu":       false,
	"tmp":       false,
}

type shellFile struct {
	Name     *tomlString           `toml:"name"`
	Image    *tomlString           `toml:"image"`
	Packages *tomlStrings          `toml:"packages"`
	Create   *tomlStrings          `toml:"create"`
	Start    *tomlStrings          `toml:"start"`
	Enter    *tomlStrings          `toml:"enter"`
	Env      map[string]tomlString `toml:"env"`
	Volumes  *tomlStrings          `toml:"volumes"`
	Share    map[string]tomlBool   `toml:"share"`
	Hostname *tomlString           `toml:"hostname"`
	Shell    *tomlString           `toml:"shell"`
}

// LoadShell reads and checks a shell dotfile.
func LoadShell(path string) (*ShellFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseShell(path, string(b))
}

// ParseShell checks data, the contents of the shell dotfile at path.
func ParseShell(path, data string) (*ShellFile, error) {
	var f shellFile
	if err := decodeChecked(path, data, shellSchema, &f); err != nil {
		return nil, err
	}
	s := &ShellFile{
		Path: path, Hash: HashOf([]byte(data)),
		Name: str(f.Name), Image: str(f.Image), Hostname: str(f.Hostname), Shell: str(f.Shell),
		Packages: strs(f.Packages), Create: strs(f.Create), Start: strs(f.Start), Enter: strs(f.Enter),
		Volumes: strs(f.Volumes), Env: map[string]string{}, Share: maps.Clone(ShareKeys),
	}
	for k, v := range f.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return nil, errAt(path, data, toml.Key{"env", k}, "env: %q is not a variable name", k)
		}
		s.Env[k] = string(v)
	}
	for k, v := range f.Share {
		s.Share[k] = bool(v)
	}
	for _, p := range s.Packages {
		if p == "" || strings.HasPrefix(p, "-") || strings.ContainsFunc(p, func(r rune) bool { return r <= ' ' || strings.ContainsRune(`'"\;&|$`+"`", r) }) {
			return nil, errAt(path, data, toml.Key{"packages"}, "packages: %q is not a package name", p)
		}
	}
	for _, v := range s.Volumes {
		if err := checkShellVolume(v); err != nil {
			return nil, errAt(path, data, toml.Key{"volumes"}, "volumes: %v", err)
		}
	}
	// Checked here, where the line is known, rather than when the shell
	// is made (run's CheckHostname and shell's CheckName have the same
	// rules; config imports neither).
	if s.Hostname != "" && !rfc1123(s.Hostname) {
		return nil, errAt(path, data, toml.Key{"hostname"}, "hostname: %q is not a host name: want letters, digits and hyphens, in labels separated by dots, at most 64 characters", s.Hostname)
	}
	if s.Name != "" {
		if filepath.Base(path) != "box.toml" {
			return nil, errAt(path, data, toml.Key{"name"}, "name: only a project's box.toml names its shell; this file's shell is named after the file")
		}
		if s.Name[0] == '.' || s.Name[0] == '-' || strings.Trim(s.Name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != "" {
			return nil, errAt(path, data, toml.Key{"name"}, "name: invalid shell name %q: use letters, digits, '_', '.' and '-'", s.Name)
		}
	}
	// A login shell is a path, as in passwd: a bare name would be looked
	// for nowhere.
	if s.Shell != "" && !strings.HasPrefix(s.Shell, "/") {
		return nil, errAt(path, data, toml.Key{"shell"}, "shell: %q is not an absolute path (say /bin/%s)", s.Shell, s.Shell)
	}
	return s, nil
}

// rfc1123 reports whether s is a host name sethostname takes: labels of
// 1-63 letters, digits and hyphens, not starting or ending with a
// hyphen, separated by dots, at most 64 characters.
func rfc1123(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' ||
			strings.Trim(l, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
			return false
		}
	}
	return true
}

// checkShellVolume checks HOST:CONTAINER[:ro]: both absolute (a HOST
// starting with ~ is the home).
func checkShellVolume(v string) error {
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 || (len(parts) == 3 && parts[2] != "ro" && parts[2] != "rw") {
		return fmt.Errorf("%q: want HOST:CONTAINER[:ro]", v)
	}
	if !strings.HasPrefix(parts[0], "/") && parts[0] != "~" && !strings.HasPrefix(parts[0], "~/") {
		return fmt.Errorf("%q: the host path must be absolute", v)
	}
	if !strings.HasPrefix(parts[1], "/") {
		return fmt.Errorf("%q: the container path must be absolute", v)
	}
	return nil
}

// HashOf is a dotfile's hash, of its bytes.
func HashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// shellSchema is checkKeys' schema of a shell dotfile.
func shellSchema(k toml.Key) (known, table bool) {
	switch k[0] {
	case "env":
		return true, len(k) == 1
	case "share":
		if len(k) == 1 {
			return true, true
		}
		_, ok := ShareKeys[k[1]]
		return ok, false
	case "name", "image", "packages", "create", "start", "enter", "volumes", "hostname", "shell":
		return true, false
	}
	return false, false
}

// ShareNames lists the share keys, sorted, for messages.
func ShareNames() []string { return slices.Sorted(maps.Keys(ShareKeys)) }

func str(s *tomlString) string {
	if s == nil {
		return ""
	}
	return string(*s)
}

func strs(s *tomlStrings) []string {
	if s == nil {
		return nil
	}
	return slices.Clone(*s)
}
