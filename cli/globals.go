package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/box-run/box/config"
	"github.com/box-run/box/image"
	"github.com/box-run/box/internal/locate"
	"github.com/box-run/box/stage"
	"github.com/box-run/box/userns"
)

// globals are the flags every command takes, and the lazily opened state
// built from them.
type globals struct {
	Root   string `help:"Store location (default: $XDG_DATA_HOME/box)." env:"BOX_ROOT" placeholder:"DIR"`
	Config string `help:"Config file; replaces the default files." env:"BOX_CONFIG" placeholder:"FILE"`
	Debug  bool   `help:"Log what box does to stderr."`

	log     *slog.Logger
	cfg     *config.Config
	mapping *userns.Mapping
	shared  *[]*image.Store // sharedStores, once opened
}

func (g *globals) setup() {
	var h slog.Handler = slog.NewTextHandler(io.Discard, nil)
	if g.Debug {
		h = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})
	}
	g.log = slog.New(h)
}

// config loads the configuration once.
func (g *globals) config() (*config.Config, error) {
	if g.cfg != nil {
		return g.cfg, nil
	}
	c, err := config.Load(g.Config)
	if err != nil {
		return nil, err
	}
	g.cfg = c
	return c, nil
}

// storeRoot picks the store location: --root/BOX_ROOT, then [storage] root,
// then the default, which moves to local disk when the data home is on a
// network filesystem. The note says why, when it did.
func (g *globals) storeRoot() (root, note string, err error) {
	if g.Root != "" {
		return g.Root, "", nil
	}
	c, err := g.config()
	if err != nil {
		return "", "", err
	}
	if c.Storage.Root != "" {
		return c.Storage.Root, "", nil
	}
	return locate.DefaultStore()
}

// openStore opens (creating if needed) the image store with this user's id mapping.
func (g *globals) openStore() (*image.Store, error) {
	root, _, err := g.storeRoot()
	if err != nil {
		return nil, err
	}
	m, err := g.idMapping()
	if err != nil {
		return nil, err
	}
	c, err := g.config()
	if err != nil {
		return nil, err
	}
	st, err := image.Open(image.Options{
		Root:     root,
		Mapping:  m.String(),
		Unpack:   stage.Unpacker(m),
		Remove:   stage.Remover(m),
		Tar:      stage.Tarrer(m),
		Registry: registryOptions(c),
		Restoring: func(name string) {
			fmt.Fprintf(os.Stderr, "box: unpacking %s again for the new id mapping\n", name)
		},
		Log: g.log,
	})
	if err != nil {
		return nil, err
	}
	if was, changed := st.MappingChanged(); changed {
		fmt.Fprintf(os.Stderr, "box: note: your id mapping changed (this store's layers were unpacked with %s, you now map %s): images are unpacked again for it as you use them; box system prune removes the old mapping's layers\n", was, m.String())
	}
	return st, nil
}

// sharedStores opens the read-only shared stores ([storage] shared, then
// BOX_SHARED_STORES, colon-separated) once. One that cannot be opened
// (its file system not mounted just now) is skipped with a warning.
func (g *globals) sharedStores() ([]*image.Store, error) {
	if g.shared != nil {
		return *g.shared, nil
	}
	c, err := g.config()
	if err != nil {
		return nil, err
	}
	roots := slices.Clone(c.Storage.Shared)
	for _, r := range strings.Split(os.Getenv("BOX_SHARED_STORES"), ":") {
		if r != "" {
			roots = append(roots, r)
		}
	}
	var out []*image.Store
	seen := map[string]bool{}
	for _, r := range roots {
		if !filepath.IsAbs(r) {
			fmt.Fprintf(os.Stderr, "box: warning: shared store %q is not an absolute path; skipped\n", r)
			continue
		}
		if seen[filepath.Clean(r)] {
			continue
		}
		seen[filepath.Clean(r)] = true
		st, err := image.OpenShared(r)
		if err != nil {
			fmt.Fprintf(os.Stderr, "box: warning: %v; skipped\n", err)
			continue
		}
		out = append(out, st)
	}
	g.shared = &out
	return out, nil
}

// lookupShared finds an image in the shared stores, the first that has it.
func (g *globals) lookupShared(ref string) (*image.Image, *image.Store, error) {
	stores, err := g.sharedStores()
	if err != nil {
		return nil, nil, err
	}
	for _, st := range stores {
		img, err := st.Lookup(ref)
		if err == nil || !errors.Is(err, image.ErrNotFound) {
			return img, st, err
		}
	}
	return nil, nil, fmt.Errorf("%s: %w", ref, image.ErrNotFound)
}

// version, commit and date are stamped by release builds (.goreleaser.yaml,
// -ldflags "-X github.com/box-run/box/cli.version=…").
var version, commit, date string

func versionString() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	// A build from a checkout: say which commit.
	rev, dirty := "", ""
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision" && len(s.Value) >= 12:
			rev = "-" + s.Value[:12]
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = "-dirty"
		}
	}
	return "dev" + rev + dirty
}

// idMapping detects this user's id mapping once.
func (g *globals) idMapping() (userns.Mapping, error) {
	if g.mapping != nil {
		return *g.mapping, nil
	}
	m, _, err := userns.Detect()
	if err != nil {
		return m, fmt.Errorf("working out the id mapping: %w", err)
	}
	g.mapping = &m
	return m, nil
}
