// Package build is box build: it reads a Dockerfile with moby/buildkit's
// parser (and its shell lexer for ARG and ENV expansion), runs each
// instruction, and records the result as an image in the store.
//
// A step that changes files makes one layer: RUN runs in a box container on
// the stage's layers and its upper directory becomes the layer; COPY
// writes the files into a fresh directory in the store's user namespace
// (the copy stage, package files); ADD also unpacks local archives there
// and fetches URLs here first. Both go through the store's layer
// writer (package layertar), as box commit does. Configuration-only steps
// make no layer.
//
// Every step has a cache key: its parent's key, its instruction after
// expansion and, for COPY, a digest of its sources (names, modes, owners,
// bytes; not times). The store's build cache maps keys to what the step
// made, so that a rebuild reruns only the steps after the first change.
//
// It does not own the store, containers or the CLI's flags; it prints step
// lines to Options.Out and RUN commands' output to Options.RunOut.
package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/box-run/box/image"
	"github.com/box-run/box/run"
	"github.com/box-run/box/slirp"
	"github.com/box-run/box/userns"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/patternmatcher/ignorefile"
)

// Options describe one build.
type Options struct {
	Store      *image.Store
	Context    string            // the build context directory
	Dockerfile []byte            // its text
	File       string            // its name, for messages
	Tags       []string          // -t
	BuildArgs  map[string]string // --build-arg
	Labels     map[string]string // --label
	Target     string            // --target: the last stage built
	NoCache    bool
	Network    string // RUN's network: slirp, none or host
	// Secrets are --secret's values by id, SSH --ssh's agent sockets by
	// id (ParseSecrets, ParseSSH), for RUN --mount=type=secret and ssh.
	Secrets map[string][]byte
	SSH     map[string]string
	// AllowNetworkHost (--allow network.host) lets RUN --network=host
	// reach the host's network, loopback included.
	AllowNetworkHost bool
	Epoch            *time.Time
	Out              io.Writer // step lines
	RunOut           io.Writer // RUN steps' stdout (their stderr is box's)
	// Platform is the platform built for (--platform, else the host's),
	// os/arch[/variant]: docker's TARGETPLATFORM.
	Platform string
	// Image finds (pulling if needed) the image a FROM names, for a
	// platform ("": the build's).
	Image func(ref, platform string) (*image.Image, error)
	// Containers, Mapping, Overlay and OverlayCache run RUN steps as
	// box run runs containers.
	Containers   run.Containers
	Mapping      userns.Mapping
	Overlay      string
	OverlayCache string
	Net          slirp.Config
	Log          *slog.Logger
}

// StepError is a RUN that exited with a non-zero status.
type StepError struct {
	Step   string
	Status int
	// OneID: the build's user namespace maps uid and gid 0 only (no
	// subordinate ids), a likely reason for a failed chown or useradd.
	OneID bool
}

func (e *StepError) Error() string {
	msg := fmt.Sprintf("building at %s: exit status %d", e.Step, e.Status)
	if e.OneID {
		msg += " (without subordinate ids only uid and gid 0 exist in the build, so a step that gives files other owners or adds users fails: see box info)"
	}
	return msg
}

// state is a stage as built so far.
type state struct {
	name   string
	cfg    *v1.ConfigFile
	size   int64
	key    string
	args   map[string]string // the stage's ARGs
	argSet []string
}

func (st *state) env() shell.EnvGetter {
	env := append([]string{}, st.cfg.Config.Env...)
	for _, k := range st.argSet {
		if !hasEnv(env, k) {
			env = append(env, k+"="+st.args[k])
		}
	}
	return shell.EnvsFromSlice(env)
}

func hasEnv(env []string, k string) bool {
	for _, e := range env {
		if strings.HasPrefix(e, k+"=") {
			return true
		}
	}
	return false
}

type builder struct {
	Options
	ctx    context.Context
	lex    *shell.Lex
	stages []*state
	used   map[string]bool   // build args an ARG declared
	auto   map[string]string // docker's automatic platform ARGs
	step   int
	total  int
	ignore []string
	work   string
}

// Build runs the Dockerfile and returns the image it made.
func Build(ctx context.Context, o Options) (*image.Image, error) {
	res, err := parser.Parse(bytes.NewReader(o.Dockerfile))
	if err != nil {
		return nil, parseError(o.File, err)
	}
	for _, n := range res.AST.Children {
		if !supported[strings.ToLower(n.Value)] {
			return nil, fmt.Errorf("%s:%d: %s is not supported by box build", o.File, n.StartLine, strings.ToUpper(n.Value))
		}
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, parseError(o.File, err)
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("%s: no FROM instruction", o.File)
	}
	last := len(stages) - 1
	if o.Target != "" {
		last = -1
		for i, s := range stages {
			if strings.EqualFold(s.Name, o.Target) {
				last = i
			}
		}
		if last < 0 {
			return nil, fmt.Errorf("%s: target stage %q not found", o.File, o.Target)
		}
	}
	b := &builder{Options: o, ctx: ctx, lex: shell.NewLex(res.EscapeToken), used: map[string]bool{}}
	if f, err := os.Open(filepath.Join(o.Context, ".dockerignore")); err == nil {
		b.ignore, err = ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading .dockerignore: %w", err)
		}
	}
	// ARGs before the first FROM: visible to FROM lines only, with
	// docker's automatic platform ARGs.
	meta := map[string]string{}
	var metaSet []string
	b.auto = platformArgs(o.Platform)
	for k, v := range b.auto {
		if bv, ok := o.BuildArgs[k]; ok {
			v = bv
		}
		meta[k] = v
		metaSet = append(metaSet, k)
		b.used[k] = true
	}
	sort.Strings(metaSet)
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			v, had := meta[kv.Key] // ARG TARGETARCH keeps docker's value
			if kv.Value != nil {
				v, _, err = b.lex.ProcessWord(*kv.Value, envOf(meta, metaSet))
				if err != nil {
					return nil, err
				}
			}
			if bv, ok := o.BuildArgs[kv.Key]; ok {
				v = bv
			}
			b.used[kv.Key] = true
			meta[kv.Key] = v
			if !had {
				metaSet = append(metaSet, kv.Key)
			}
		}
	}
	for _, s := range stages[:last+1] {
		b.total += 1 + len(s.Commands)
	}
	dir, done, err := o.Store.Staging("build-")
	if err != nil {
		return nil, err
	}
	b.work = dir
	defer done()
	for i, s := range stages[:last+1] {
		st, err := b.from(s, meta, metaSet)
		if err != nil {
			return nil, err
		}
		st.name = s.Name
		b.stages = append(b.stages, st)
		triggers, err := b.onbuild(st, s)
		if err != nil {
			return nil, err
		}
		for _, c := range append(triggers, s.Commands...) {
			if err := b.command(st, c); err != nil {
				return nil, err
			}
		}
		if i == last {
			b.warnUnused()
			return b.finish(st)
		}
	}
	return nil, errors.New("unreachable")
}

// onbuild parses the ONBUILD triggers of a stage's base image, which run
// before the stage's own instructions, as docker's; the image made does
// not keep them.
func (b *builder) onbuild(st *state, s instructions.Stage) ([]instructions.Command, error) {
	triggers := st.cfg.Config.OnBuild
	if len(triggers) == 0 {
		return nil, nil
	}
	st.cfg.Config.OnBuild = nil
	var cmds []instructions.Command
	for _, t := range triggers {
		res, err := parser.Parse(strings.NewReader(t))
		if err != nil || len(res.AST.Children) != 1 {
			return nil, fmt.Errorf("%s: the base image's ONBUILD %q: does not parse", where(b.File, s.Location), t)
		}
		n := res.AST.Children[0]
		if name := strings.ToLower(n.Value); !supported[name] || name == "from" || name == "onbuild" {
			return nil, fmt.Errorf("%s: the base image's ONBUILD %q: %s is not supported there", where(b.File, s.Location), t, strings.ToUpper(n.Value))
		}
		c, err := instructions.ParseCommand(n)
		if err != nil {
			return nil, fmt.Errorf("%s: the base image's ONBUILD %q: %w", where(b.File, s.Location), t, err)
		}
		cmds = append(cmds, c)
	}
	b.total += len(cmds)
	return cmds, nil
}

// parseError is an error of buildkit's parser as FILE:LINE: MESSAGE, the
// line being the first its location names (an unterminated heredoc's
// start, say), without buildkit's "dockerfile parse error on line N".
func parseError(file string, err error) error {
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		return fmt.Errorf("%s:%d: %w", file, le.Locations[0][0].Start.Line, le.Unwrap())
	}
	return fmt.Errorf("%s: %w", file, err)
}

// warnUnused says which --build-arg no ARG declared, as docker does.
func (b *builder) warnUnused() {
	var unused []string
	for k := range b.BuildArgs {
		if !b.used[k] {
			unused = append(unused, k)
		}
	}
	if len(unused) > 0 {
		sort.Strings(unused)
		fmt.Fprintf(b.Out, "[Warning] one or more build args were not consumed: %s\n", strings.Join(unused, ", "))
	}
}

var supported = map[string]bool{
	"from": true, "run": true, "copy": true, "add": true, "env": true, "arg": true, "workdir": true,
	"user": true, "entrypoint": true, "cmd": true, "label": true, "expose": true, "volume": true,
	"shell": true, "stopsignal": true, "healthcheck": true, "onbuild": true, "maintainer": true,
}

func envOf(m map[string]string, keys []string) shell.EnvGetter {
	var env []string
	for _, k := range keys {
		env = append(env, k+"="+m[k])
	}
	return shell.EnvsFromSlice(env)
}

func (b *builder) printStep(text string) {
	b.step++
	fmt.Fprintf(b.Out, "STEP %d/%d: %s\n", b.step, b.total, text)
}

func where(file string, loc []parser.Range) string {
	if len(loc) > 0 {
		return fmt.Sprintf("%s:%d", file, loc[0].Start.Line)
	}
	return file
}

// from starts a stage: scratch, an earlier stage or an image.
func (b *builder) from(s instructions.Stage, meta map[string]string, metaSet []string) (*state, error) {
	b.printStep(s.SourceCode)
	base, _, err := b.lex.ProcessWord(s.BaseName, envOf(meta, metaSet))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where(b.File, s.Location), err)
	}
	platform := ""
	if s.Platform != "" {
		// FROM --platform=$BUILDPLATFORM, the cross-compiling stage's.
		if platform, _, err = b.lex.ProcessWord(s.Platform, envOf(meta, metaSet)); err != nil {
			return nil, fmt.Errorf("%s: %w", where(b.File, s.Location), err)
		}
		if _, err := image.ParsePlatform(platform); err != nil || platform == "" {
			return nil, fmt.Errorf("%s: FROM --platform=%s: not a platform such as linux/amd64", where(b.File, s.Location), platform)
		}
	}
	st := &state{args: map[string]string{}}
	for _, k := range metaSet {
		st.args[k] = meta[k] // a stage's ARG NAME (no value) takes these
	}
	for _, prev := range b.stages {
		if prev.name != "" && strings.EqualFold(prev.name, base) {
			st.cfg = prev.cfg.DeepCopy()
			st.size, st.key = prev.size, prev.key
			return st, nil
		}
	}
	if base == "scratch" {
		// The stage's platform: FROM --platform's, else the build's.
		want := platform
		if want == "" {
			want = b.Platform
		}
		p, err := image.ParsePlatform(want)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where(b.File, s.Location), err)
		}
		st.cfg = &v1.ConfigFile{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant, RootFS: v1.RootFS{Type: "layers"}}
		st.key = "scratch"
		if want != "" && !image.PlatformMatches("linux/"+runtime.GOARCH, p) {
			st.key += " " + want // a cached step's config names its platform
		}
		return st, nil
	}
	img, err := b.Image(base, platform)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where(b.File, s.Location), notStage(fmt.Sprintf("%q", base), err))
	}
	cfg, err := b.Store.ImageConfig(img)
	if err != nil {
		return nil, err
	}
	st.cfg = cfg.DeepCopy()
	st.size, st.key = img.Size, img.ID
	return st, nil
}

// finish records the last stage as the image, with --label and the tags.
func (b *builder) finish(st *state) (*image.Image, error) {
	if len(b.Labels) > 0 {
		if st.cfg.Config.Labels == nil {
			st.cfg.Config.Labels = map[string]string{}
		}
		for k, v := range b.Labels {
			st.cfg.Config.Labels[k] = v
		}
	}
	created := time.Now().UTC().Truncate(time.Second)
	if b.Epoch != nil {
		created = b.Epoch.UTC()
	}
	st.cfg.Created = v1.Time{Time: created}
	if n := len(st.cfg.History); n > 0 {
		st.cfg.Created = st.cfg.History[n-1].Created
	}
	platform := st.cfg.OS + "/" + st.cfg.Architecture
	if st.cfg.Variant != "" {
		platform += "/" + st.cfg.Variant
	}
	release, err := b.Store.HoldLayers(diffIDs(st.cfg))
	if err != nil {
		return nil, err
	}
	defer release()
	return b.Store.Record(st.cfg, st.size, platform, b.Tags)
}

// notStage is the error for a FROM or COPY --from name that names no
// earlier stage and no image box could find or pull: like docker, box
// tries a registry for a name that is not a stage, and says both.
func notStage(name string, err error) error {
	return fmt.Errorf("%s is neither a stage nor an image box could pull: %w", name, err)
}

// platformArgs are docker's automatic platform ARGs for a build for
// target (os/arch[/variant]; "" the host's) on this host: TARGET* and
// BUILD*, PLATFORM, OS, ARCH and VARIANT each.
func platformArgs(target string) map[string]string {
	host := "linux/" + runtime.GOARCH // as buildkit normalises it: arm64, not arm64/v8
	if target == "" {
		target = host
	}
	out := map[string]string{}
	for prefix, p := range map[string]string{"TARGET": target, "BUILD": host} {
		parts := strings.SplitN(p, "/", 3)
		for len(parts) < 3 {
			parts = append(parts, "")
		}
		out[prefix+"PLATFORM"], out[prefix+"OS"], out[prefix+"ARCH"], out[prefix+"VARIANT"] = p, parts[0], parts[1], parts[2]
	}
	return out
}
