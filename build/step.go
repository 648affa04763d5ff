package build

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/box-run/box/image"
	"github.com/box-run/box/stage"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// command runs one instruction of st, from the cache if it has it.
func (b *builder) command(st *state, c instructions.Command) error {
	loc := where(b.File, c.Location())
	if h, ok := c.(*instructions.HealthCheckCommand); ok && h.Health != nil && h.Health.StartInterval != 0 {
		// Refused before the cache: an older box kept such a step
		// without it.
		return fmt.Errorf("%s: HEALTHCHECK --start-interval is not supported by box build yet: the image config box writes has no StartInterval", loc)
	}
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
	var plan *runPlan
	if r, ok := c.(*instructions.RunCommand); ok {
		env := st.env()
		var err error
		plan, err = b.planRun(st, r, func(w string) (string, error) {
			r, _, err := b.lex.ProcessWord(w, env)
			return r, err
		})
		if err != nil {
			return fmt.Errorf("%s: %w", loc, err)
		}
	}
	b.printStep(fmt.Sprint(c))
	keyInput := st.key + "\n" + text
	if r, ok := c.(*instructions.RunCommand); ok {
		// The build args a RUN sees are part of what it does, and so
		// are its heredocs' bodies, which its text leaves out.
		keyInput += fmt.Sprintf("\n%q", st.argSet)
		for _, k := range st.argSet {
			keyInput += "\n" + k + "=" + st.args[k]
		}
		// So are its network (a RUN with none may fail, or make other
		// files, where one with host or slirp does not) and its mounts
		// (the files of a bind mount).
		keyInput += plan.key
		for _, f := range r.Files {
			keyInput += fmt.Sprintf("\nheredoc %q %q", f.Name, f.Data)
		}
	}
	var copyJob *stage.CopyJob
	switch cc := c.(type) {
	case *instructions.CopyCommand:
		if cc.Parents || len(cc.ExcludePatterns) > 0 {
			return fmt.Errorf("%s: COPY --parents and --exclude are not supported by box build yet", loc)
		}
		// --link only lets buildkit rebase the layer; box's layer is
		// the same either way. buildkit's Expand leaves --from to its
		// dispatcher; docker expands it.
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
		if len(cc.ExcludePatterns) > 0 || cc.KeepGitDir != nil {
			return fmt.Errorf("%s: ADD --exclude and --keep-git-dir are not supported by box build yet", loc)
		}
		job.Unpack = root == b.Context // downloads are not unpacked, as docker's
		if cc.Unpack != nil {
			job.Unpack = *cc.Unpack && root == b.Context
		}
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
		layer, size, err = b.run(st, cc, loc, plan)
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
