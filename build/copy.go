package build

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/box-run/box/build/files"
	"github.com/box-run/box/stage"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

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
	if from != "" {
		lower, key, err := b.fromLayers(from)
		if err != nil {
			return nil, "", err
		}
		job.Lower = lower
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

// fromLayers are the layer directories of what --from= names (a stage by
// name or index, else an image), and what stands for them in a cache key.
func (b *builder) fromLayers(from string) (lower []string, key string, err error) {
	var src *v1.ConfigFile
	for i, s := range b.stages {
		if strings.EqualFold(s.name, from) || fmt.Sprint(i) == from {
			src, key = s.cfg, "stage "+s.key
		}
	}
	if src == nil {
		img, err := b.Image(from, "")
		if err != nil {
			return nil, "", notStage("--from="+from, err)
		}
		if src, err = b.Store.ImageConfig(img); err != nil {
			return nil, "", err
		}
		key = "image " + img.ID
	}
	lower = b.layerDirs(src)
	if len(lower) == 0 {
		return nil, "", fmt.Errorf("--from=%s has no files", from)
	}
	return lower, key, nil
}
