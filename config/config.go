// Package config loads box's TOML configuration.
//
// Configuration comes from /etc/box/config.toml (system) and
// $XDG_CONFIG_HOME/box/config.toml (user, XDG_CONFIG_HOME defaulting to
// $HOME/.config). The system file is read first and the user file on top:
// user values win key by key, and registry tables merge per host and per
// field. An explicit file (--config FILE or BOX_CONFIG) replaces both and
// must exist; missing default files are fine.
//
// The package only reads, validates and merges settings. Every error names
// the file and line of the offending key, because a config error that only
// says "invalid value" is useless when two files are involved.
//
// It does not own what the settings control: it does not create or lock the
// store (Storage.Root is just a path), pick an overlay implementation at
// run time, or talk to registries (it checks that a CA file exists but does
// not parse certificates or dial anything).
//
// Shell dotfiles (box shell's ~/.config/box/shells/NAME.toml and a
// project's box.toml) are read by LoadShell with the same file:line errors.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/box-run/box/internal/locate"
)

// Overlay modes accepted in storage.overlay.
const (
	OverlayAuto   = "auto"   // pick the best mode that works at run time
	OverlayKernel = "kernel" // kernel overlayfs in a user namespace
	OverlayFuse   = "fuse"   // fuse-overlayfs
	OverlayCopy   = "copy"   // copy layers into a plain directory
)

var overlayModes = []string{OverlayAuto, OverlayKernel, OverlayFuse, OverlayCopy}

// Config is the merged configuration.
type Config struct {
	Storage    Storage             `toml:"storage"`
	Network    Network             `toml:"network"`
	CDI        CDI                 `toml:"cdi"`
	Shell      Shell               `toml:"shell"`
	Registries map[string]Registry `toml:"registries"` // key: normalized registry host, e.g. "docker.io", "127.0.0.1:5443"
	Files      []string            `toml:"-"`          // files that were read, in order (for `box info`)
}

// Network configures the containers' default user-mode network.
type Network struct {
	// DNS are the upstream resolvers ("ip" or "ip:port") the gateway's DNS
	// forwards to; empty means the host's /etc/resolv.conf.
	DNS []string `toml:"dns"`
	// AllowHostLoopback lets containers reach the host's 127.0.0.1 through
	// host.box.internal by default.
	AllowHostLoopback bool `toml:"allow_host_loopback"`
}

// CDI configures where box looks for Container Device Interface specs,
// which --device and --gpus name devices from.
type CDI struct {
	// SpecDirs are the spec directories, absolute, later ones winning for
	// a device defined twice; nil means /etc/cdi and /var/run/cdi.
	SpecDirs []string `toml:"spec_dirs"`
}

// Shell configures box shell's defaults.
type Shell struct {
	// Image is the image of a shell that has no dotfile; "" means one of
	// the host's own distribution.
	Image string `toml:"image"`
}

// Storage configures where and how images and containers are stored.
type Storage struct {
	// Root is the store location, absolute after ~ and $VAR expansion;
	// "" means the store package's default.
	Root string `toml:"root"`
	// Overlay is one of the Overlay* constants; it is OverlayAuto when
	// the files leave it unset.
	Overlay string `toml:"overlay"`
	// Shared are read-only image stores (an admin's, on a shared file
	// system) whose images run without being copied: absolute paths.
	Shared []string `toml:"shared"`
}

// Registry holds per-host registry settings.
type Registry struct {
	// Mirrors are tried in order before the registry itself. Each is
	// host[:port] optionally followed by a path prefix, without a scheme;
	// a mirror's own TLS settings come from its own registries table.
	Mirrors []string `toml:"mirrors"`
	// Insecure allows plain HTTP and unverified TLS for this host.
	Insecure bool `toml:"insecure"`
	// CA is an absolute path to a PEM file with extra CA certificates for
	// this host (relative paths in a file are resolved against its
	// directory).
	CA string `toml:"ca"`
}

// systemPath is a variable so tests can point it away from /etc.
var systemPath = locate.SystemConfig

// DefaultPaths returns the files Load reads when no explicit file is
// given, lowest precedence first (locate.ConfigFiles).
func DefaultPaths() []string { return locate.ConfigFiles(systemPath) }

// Load reads the configuration. A non-empty explicit path (from --config)
// or, failing that, $BOX_CONFIG names the only file to read, which must
// exist; otherwise the DefaultPaths are read, skipping missing ones.
func Load(explicit string) (*Config, error) {
	if explicit == "" {
		explicit = os.Getenv("BOX_CONFIG")
	}
	if explicit == "" {
		return LoadFiles(DefaultPaths()...)
	}
	if _, err := os.Stat(explicit); err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	return LoadFiles(explicit)
}

// LoadFiles reads each existing file in order, later files winning per key,
// and returns the merged configuration. Missing files are skipped.
func LoadFiles(paths ...string) (*Config, error) {
	c := &Config{Registries: map[string]Registry{}}
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("config file %s: %w", p, err)
		}
		data, err := os.ReadFile(abs)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		f, err := parseFile(abs, string(data))
		if err != nil {
			return nil, err
		}
		c.merge(f)
		c.Files = append(c.Files, abs)
	}
	if c.Storage.Overlay == "" {
		c.Storage.Overlay = OverlayAuto
	}
	return c, nil
}

// Registry returns the settings for host, or the zero Registry if none are
// configured. Docker Hub's aliases all find the "docker.io" entry.
func (c *Config) Registry(host string) Registry {
	return c.Registries[NormalizeHost(host)]
}

// NormalizeHost maps a registry host to the key used in Config.Registries:
// lower case, with Docker Hub's aliases ("index.docker.io",
// "registry-1.docker.io") folded into "docker.io" because image references
// and users name the Hub all three ways.
func NormalizeHost(host string) string {
	host = strings.ToLower(host)
	switch host {
	case "index.docker.io", "registry-1.docker.io":
		return "docker.io"
	}
	return host
}

// merge applies one file's settings on top of c. Only keys the file set
// replace earlier values, so a user file can change one field of a
// registry table defined in the system file.
func (c *Config) merge(f *fileConfig) {
	if f.Storage.Root != nil {
		c.Storage.Root = string(*f.Storage.Root)
	}
	if f.Storage.Overlay != nil {
		c.Storage.Overlay = string(*f.Storage.Overlay)
	}
	if f.Storage.Shared != nil {
		c.Storage.Shared = append([]string{}, *f.Storage.Shared...)
	}
	if f.Network.DNS != nil {
		c.Network.DNS = append([]string{}, *f.Network.DNS...)
	}
	if f.CDI.SpecDirs != nil {
		c.CDI.SpecDirs = append([]string{}, *f.CDI.SpecDirs...)
	}
	if f.Shell.Image != nil {
		c.Shell.Image = string(*f.Shell.Image)
	}
	if f.Network.AllowHostLoopback != nil {
		c.Network.AllowHostLoopback = bool(*f.Network.AllowHostLoopback)
	}
	for host, fr := range f.Registries {
		r := c.Registries[host]
		if fr.Mirrors != nil {
			// Copy so that the Config never aliases decoder state.
			r.Mirrors = append([]string{}, *fr.Mirrors...)
		}
		if fr.Insecure != nil {
			r.Insecure = bool(*fr.Insecure)
		}
		if fr.CA != nil {
			r.CA = string(*fr.CA)
		}
		c.Registries[host] = r
	}
}
