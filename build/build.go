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
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/box-run/box/build/files"
	"github.com/box-run/box/image"
	"github.com/box-run/box/run"
	"github.com/box-run/box/slirp"
	"github.com/box-run/box/stage"
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
	Epoch      *time.Time
	Out        io.Writer // step lines
	RunOut     io.Writer // RUN steps' stdout (their stderr is box's)
	// Image finds (pulling if needed) the image a FROM names.
	Image func(ref string) (*image.Image, error)
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
}

func (e *StepError) Error() string {
	return fmt.Sprintf("building at %s: exit status %d", e.Step, e.Status)
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
	used   map[string]bool // build args an ARG declared
	step   int
	total  int
	ignore []string
	work   string
}

// Build runs the Dockerfile and returns the image it made.
func Build(ctx context.Context, o Options) (*image.Image, error) {
	res, err := parser.Parse(bytes.NewReader(o.Dockerfile))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.File, err)
	}
	for _, n := range res.AST.Children {
		if !supported[strings.ToLower(n.Value)] {
			return nil, fmt.Errorf("%s:%d: %s is not supported by box build", o.File, n.StartLine, strings.ToUpper(n.Value))
		}
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.File, err)
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
			return nil, fmt.Errorf("target stage %q not found in %s", o.Target, o.File)
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
	// ARGs before the first FROM: visible to FROM lines only.
	meta := map[string]string{}
	var metaSet []string
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			v := ""
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
			metaSet = append(metaSet, kv.Key)
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
		st.cfg = &v1.ConfigFile{OS: "linux", Architecture: runtime.GOARCH, RootFS: v1.RootFS{Type: "layers"}}
		st.key = "scratch"
		return st, nil
	}
	img, err := b.Image(base)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where(b.File, s.Location), err)
	}
	cfg, err := b.Store.ImageConfig(img)
	if err != nil {
		return nil, err
	}
	st.cfg = cfg.DeepCopy()
	st.size, st.key = img.Size, img.ID
	return st, nil
}

// command runs one instruction of st, from the cache if it has it.
func (b *builder) command(st *state, c instructions.Command) error {
	loc := where(b.File, c.Location())
	if e, ok := c.(instructions.SupportsSingleWordExpansion); ok {
		if _, isRun := c.(*instructions.RunCommand); !isRun {
			env := st.env()
			if err := e.Expand(func(w string) (string, error) {
				r, _, err := b.lex.ProcessWord(w, env)
				return r, err
			}); err != nil {
				return fmt.Errorf("%s: %w", loc, err)
			}
		}
	}
	if e, ok := c.(instructions.SupportsSingleWordExpansionRaw); ok {
		// COPY heredocs with an unquoted delimiter, as buildkit expands
		// them: variables only, quotes kept.
		env := st.env()
		if err := e.ExpandRaw(func(w string) (string, error) {
			lex := shell.NewLex('\\')
			lex.SkipProcessQuotes = true
			r, _, err := lex.ProcessWord(w, env)
			return r, err
		}); err != nil {
			return fmt.Errorf("%s: %w", loc, err)
		}
	}
	text := fmt.Sprint(c) // the instruction's source, expanded
	if a, ok := c.(*instructions.ArgCommand); ok {
		for _, kv := range a.Args {
			b.used[kv.Key] = true
			v, given := b.BuildArgs[kv.Key]
			if !given && kv.Value != nil {
				v = *kv.Value
			} else if !given {
				v = st.args[kv.Key]
			}
			st.args[kv.Key] = v
			st.argSet = append(st.argSet, kv.Key)
			text += fmt.Sprintf(" [%s=%s]", kv.Key, v)
		}
	}
	b.printStep(fmt.Sprint(c))
	keyInput := st.key + "\n" + text
	if r, ok := c.(*instructions.RunCommand); ok {
		// The build args a RUN sees are part of what it does.
		keyInput += fmt.Sprintf("\n%q", st.argSet)
		for _, k := range st.argSet {
			keyInput += "\n" + k + "=" + st.args[k]
		}
		_ = r
	}
	var copyJob *stage.CopyJob
	switch cc := c.(type) {
	case *instructions.CopyCommand:
		// buildkit's Expand leaves --from to its dispatcher; docker expands it.
		from, _, err := b.lex.ProcessWord(cc.From, st.env())
		if err != nil {
			return fmt.Errorf("%s: %w", loc, err)
		}
		srcs, root, err := b.inline(cc.SourcePaths, cc.SourceContents)
		if err != nil {
			return fmt.Errorf("%s: %w", loc, err)
		}
		if root != b.Context && from != "" {
			return fmt.Errorf("%s: COPY --from with a heredoc", loc)
		}
		job, key, err := b.copyJobIn(root, st, srcs, cc.DestPath, from, cc.Chown, cc.Chmod)
		if err != nil {
			return fmt.Errorf("%s: %w", loc, err)
		}
		copyJob, keyInput = job, keyInput+"\n"+key
	case *instructions.AddCommand:
		srcs, root, err := b.addSources(cc.SourcePaths, cc.Checksum)
		if err != nil {
			return fmt.Errorf("%s: %w", loc, err)
		}
		if len(cc.SourceContents) > 0 {
			return fmt.Errorf("%s: ADD of a heredoc is not supported by box build yet: use COPY", loc)
		}
		job, key, err := b.copyJobIn(root, st, srcs, cc.DestPath, "", cc.Chown, cc.Chmod)
		if err != nil {
			return fmt.Errorf("%s: %w", loc, err)
		}
		job.Unpack = root == b.Context // downloads are not unpacked, as docker's
		copyJob, keyInput = job, keyInput+"\n"+key
	}
	sum := sha256.Sum256([]byte(keyInput))
	key := hex.EncodeToString(sum[:])
	if !b.NoCache {
		if e, ok := b.Store.CacheGet(key); ok {
			var cfg v1.ConfigFile
			if err := json.Unmarshal(e.Config, &cfg); err == nil {
				fmt.Fprintln(b.Out, "--> Using cache")
				st.cfg, st.size, st.key = &cfg, st.size+e.Size, key
				return nil
			}
		}
	}
	var layer string
	var size int64
	var err error
	switch cc := c.(type) {
	case *instructions.RunCommand:
		layer, size, err = b.run(st, cc, loc)
	case *instructions.CopyCommand, *instructions.AddCommand:
		if layer, size, err = b.copy(st, copyJob); err != nil {
			err = fmt.Errorf("%s: %w", loc, err)
		}
	default:
		err = b.configure(st, c, loc)
	}
	if err != nil {
		return err
	}
	created := time.Now().UTC().Truncate(time.Second)
	if b.Epoch != nil {
		created = b.Epoch.UTC()
	}
	h := v1.History{Created: v1.Time{Time: created}, CreatedBy: text, Comment: "box build", EmptyLayer: layer == ""}
	st.cfg.History = append(st.cfg.History, h)
	if layer != "" {
		d, err := v1.NewHash(layer)
		if err != nil {
			return err
		}
		st.cfg.RootFS.Type = "layers"
		st.cfg.RootFS.DiffIDs = append(st.cfg.RootFS.DiffIDs, d)
	}
	cfgJSON, err := json.Marshal(st.cfg)
	if err != nil {
		return err
	}
	st.size += size
	st.key = key
	return b.Store.CachePut(key, image.CacheEntry{Layer: layer, Size: size, Config: cfgJSON})
}

// layerDirs are the unpacked directories of st's layers.
func (b *builder) layerDirs(cfg *v1.ConfigFile) []string {
	var dirs []string
	for _, d := range cfg.RootFS.DiffIDs {
		dirs = append(dirs, b.Store.LayerDir(d.String()))
	}
	return dirs
}

func diffIDs(cfg *v1.ConfigFile) []string {
	var ids []string
	for _, d := range cfg.RootFS.DiffIDs {
		ids = append(ids, d.String())
	}
	return ids
}

// shellOf is the stage's SHELL, or docker's default.
func shellOf(cfg *v1.ConfigFile) []string {
	if len(cfg.Config.Shell) > 0 {
		return cfg.Config.Shell
	}
	return []string{"/bin/sh", "-c"}
}

func argv(cfg *v1.ConfigFile, c instructions.ShellDependantCmdLine) []string {
	if c.PrependShell && len(c.Files) > 0 {
		return append(append([]string{}, shellOf(cfg)...), heredocScript(c))
	}
	if c.PrependShell {
		return append(append([]string{}, shellOf(cfg)...), strings.Join(c.CmdLine, " "))
	}
	return append([]string{}, c.CmdLine...)
}

// heredocScript is the shell script a shell-form RUN with heredocs
// stands for. A RUN that is one heredoc runs its text, as buildkit's;
// otherwise the heredocs are written back after the command line, where
// the shell reads them as its own here-documents.
func heredocScript(c instructions.ShellDependantCmdLine) string {
	line := strings.Join(c.CmdLine, " ")
	if len(c.Files) == 1 && parser.MustParseHeredoc(line) != nil {
		return c.Files[0].Data
	}
	var sb strings.Builder
	sb.WriteString(line + "\n")
	for _, f := range c.Files {
		sb.WriteString(f.Data)
		if !strings.HasSuffix(f.Data, "\n") && f.Data != "" {
			sb.WriteString("\n")
		}
		sb.WriteString(f.Name + "\n")
	}
	return sb.String()
}

// run runs a RUN step in a container on the stage's layers and stores its
// upper directory as the step's layer.
func (b *builder) run(st *state, c *instructions.RunCommand, loc string) (string, int64, error) {
	if len(c.Files) > 0 && (!c.PrependShell || strings.HasPrefix(c.Files[0].Data, "#!")) {
		return "", 0, fmt.Errorf("%s: a RUN heredoc in exec form or with a #! line is not supported by box build yet", loc)
	}
	if len(c.FlagsUsed) > 0 {
		return "", 0, fmt.Errorf("%s: RUN --%s is not supported by box build yet", loc, c.FlagsUsed[0])
	}
	if len(st.cfg.RootFS.DiffIDs) == 0 {
		return "", 0, fmt.Errorf("%s: RUN needs files to run: the stage has no layers (FROM scratch)", loc)
	}
	release, err := b.Store.HoldLayers(diffIDs(st.cfg))
	if err != nil {
		return "", 0, err
	}
	defer release()
	cfg := st.cfg.Config
	cfg.Env = append([]string{}, cfg.Env...)
	for _, k := range st.argSet {
		if !hasEnv(cfg.Env, k) {
			cfg.Env = append(cfg.Env, k+"="+st.args[k])
		}
	}
	cfg.Volumes, cfg.ExposedPorts = nil, nil
	empty := ""
	wd, _ := os.Getwd()
	home, _ := os.UserHomeDir()
	spec, ct, netCfg, err := run.New(run.Flags{Entrypoint: &empty, Args: argv(st.cfg, c.ShellDependantCmdLine), Network: b.Network},
		run.Image{Ref: "box-build", Config: cfg, Layers: b.layerDirs(st.cfg)},
		run.Host{Wd: wd, Home: home, Net: b.Net, Overlay: b.Overlay, OverlayCache: b.OverlayCache})
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w", loc, err)
	}
	remover := stage.Remover(b.Mapping)
	ran := make(chan struct{})
	defer close(ran)
	go b.killOnCancel(ct.ID, ran)
	status, err := run.Run(run.Options{
		Spec: spec, Container: ct, Containers: b.Containers, Mapping: b.Mapping,
		RemoveAll: remover, Warn: os.Stderr, Net: netCfg, Log: b.Log, Stdout: b.RunOut,
	})
	defer b.Containers.Remove(ct, remover)
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w", loc, err)
	}
	if status != 0 {
		return "", 0, &StepError{Step: fmt.Sprintf("STEP %d/%d %q (%s)", b.step, b.total, "RUN "+strings.Join(c.CmdLine, " "), loc), Status: status}
	}
	dir := b.Containers.Dir(ct.ID)
	if _, err := os.Lstat(filepath.Join(dir, ".rootfs.copy-complete")); err == nil {
		return "", 0, fmt.Errorf("%s: the RUN container ran on a flat copy of its layers (overlay = \"copy\"), which keeps no record of its changes", loc)
	}
	return b.Store.AddLayer(b.ctx, filepath.Join(dir, "upper"), b.Epoch)
}

// killOnCancel kills the RUN container id once the build is cancelled
// (^C): its PID 1, say sleep, may ignore the SIGINT box forwards, as a
// PID 1 without a handler does.
func (b *builder) killOnCancel(id string, ran <-chan struct{}) {
	select {
	case <-ran:
		return
	case <-b.ctx.Done():
	}
	for {
		if ct, err := b.Containers.Lookup(id); err == nil && ct.Status == "running" {
			b.Containers.Kill(ct, syscall.SIGKILL)
			return
		}
		select {
		case <-ran:
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// copyJobIn resolves a COPY's sources under root (the context, or the
// directory ADD downloaded URLs or a heredoc was written into) and returns
// the job and the digest of its sources for the cache key.
func (b *builder) copyJobIn(root string, st *state, srcs []string, dest, from, chown, chmod string) (*stage.CopyJob, string, error) {
	job := &stage.CopyJob{Spec: files.Spec{Sources: srcs, UID: -1, GID: -1, Base: b.layerDirs(st.cfg)}, Overlay: b.Overlay}
	if !path.IsAbs(dest) {
		wd := st.cfg.Config.WorkingDir
		if wd == "" {
			wd = "/"
		}
		trail := strings.HasSuffix(dest, "/") || dest == "."
		dest = path.Join(wd, dest)
		if trail {
			dest += "/"
		}
	}
	job.Dest = dest
	job.Chown = chown // names are looked up in the stage, in the copy stage
	if chmod != "" {
		var m uint32
		if _, err := fmt.Sscanf(chmod, "%o", &m); err != nil || m > 0o7777 {
			return nil, "", fmt.Errorf("--chmod=%s: want an octal mode", chmod)
		}
		job.Mode = osMode(m)
	}
	var key string
	if from != "" {
		var src *v1.ConfigFile
		for i, s := range b.stages {
			if strings.EqualFold(s.name, from) || fmt.Sprint(i) == from {
				src, key = s.cfg, "stage "+s.key
			}
		}
		if src == nil {
			img, err := b.Image(from)
			if err != nil {
				return nil, "", err
			}
			cfg, err := b.Store.ImageConfig(img)
			if err != nil {
				return nil, "", err
			}
			src, key = cfg, "image "+img.ID
		}
		job.Lower = b.layerDirs(src)
		if len(job.Lower) == 0 {
			return nil, "", fmt.Errorf("--from=%s has no files", from)
		}
		return job, fmt.Sprintf("%s %q", key, srcs), nil
	}
	job.Root = root
	if root == b.Context {
		job.Ignore = b.ignore
	}
	found, err := files.Expand(root, srcs, job.Ignore)
	if err != nil {
		return nil, "", err
	}
	sum, err := files.Hash(root, found, job.Ignore)
	if err != nil {
		return nil, "", err
	}
	return job, "context " + sum, nil
}

// copy runs a COPY in the copy stage and stores the directory it wrote as
// the step's layer.
func (b *builder) copy(st *state, job *stage.CopyJob) (string, int64, error) {
	out, err := os.MkdirTemp(b.work, "copy-")
	if err != nil {
		return "", 0, err
	}
	defer stage.Remover(b.Mapping)(out)
	job.Out = filepath.Join(out, "layer")
	job.Mnt = filepath.Join(out, "mnt")
	for _, d := range []string{job.Out, job.Mnt} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return "", 0, err
		}
	}
	if len(job.Lower)+len(job.Base) > 0 {
		release, err := b.Store.HoldLayers(diffIDsOfDirs(append(append([]string{}, job.Lower...), job.Base...)))
		if err != nil {
			return "", 0, err
		}
		defer release()
	}
	if err := stage.Copier(b.Mapping)(*job); err != nil {
		return "", 0, err
	}
	return b.Store.AddLayer(b.ctx, job.Out, b.Epoch)
}

// diffIDsOfDirs are the DiffIDs of layer directories (Store.LayerDir:
// layers/<hex>/rootfs).
func diffIDsOfDirs(dirs []string) []string {
	var ids []string
	for _, d := range dirs {
		ids = append(ids, "sha256:"+filepath.Base(filepath.Dir(d)))
	}
	return ids
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
