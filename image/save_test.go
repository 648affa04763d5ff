package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"testing"

	"github.com/box-run/box/image/extract"
	"github.com/box-run/box/image/layertar"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/klauspost/compress/gzip"
)

// TestSaveDockerArchive checks the archive's structure as docker load
// reads it: manifest.json naming the config, the tags and the layers, each
// file present with the digest the config records.
func TestSaveDockerArchive(t *testing.T) {
	s, err := Open(Options{
		Root:   t.TempDir(),
		Unpack: extract.Extract,
		Tar:    func(dir string, w io.Writer, o layertar.Options) error { return layertar.Write(w, dir, o) },
	})
	if err != nil {
		t.Fatal(err)
	}
	var layers []v1.Layer
	for _, n := range []string{"a", "b"} {
		var tb bytes.Buffer
		tw := tar.NewWriter(&tb)
		tw.WriteHeader(&tar.Header{Name: n + "/", Typeflag: tar.TypeDir, Mode: 0o755})
		tw.WriteHeader(&tar.Header{Name: n + "/f", Typeflag: tar.TypeReg, Mode: 0o644, Size: 2})
		tw.Write([]byte(n + "\n"))
		tw.Close()
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tb.Bytes())), nil })
		if err != nil {
			t.Fatal(err)
		}
		layers = append(layers, l)
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	plat, _ := ParsePlatform("")
	if _, err := s.add(context.Background(), img, "test", "example.com/r:t", plat, nil); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s.Save(context.Background(), &buf, []string{"example.com/r:t"}, DockerArchive); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(buf.Bytes()))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name], _ = io.ReadAll(tr)
	}
	var m []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	if len(m) != 1 || len(m[0].RepoTags) != 1 || m[0].RepoTags[0] != "example.com/r:t" || len(m[0].Layers) != 2 {
		t.Fatalf("manifest.json = %+v", m)
	}
	config, ok := files[m[0].Config]
	if !ok {
		t.Fatalf("config %s missing", m[0].Config)
	}
	var cfg v1.ConfigFile
	if err := json.Unmarshal(config, &cfg); err != nil {
		t.Fatal(err)
	}
	for i, l := range m[0].Layers {
		b, ok := files[l]
		if !ok {
			t.Fatalf("layer %s missing", l)
		}
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("layer %s: %v", l, err)
		}
		h, _, err := v1.SHA256(zr)
		if err != nil || h != cfg.RootFS.DiffIDs[i] {
			t.Errorf("layer %s has diff id %s, config says %s (%v)", l, h, cfg.RootFS.DiffIDs[i], err)
		}
	}
	back, err := tarball.Image(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := back.ConfigName(); err != nil || id.String() != sha256Digest(config) {
		t.Errorf("go-containerregistry reads config %s (%v), want %s", id, err, sha256Digest(config))
	}
}

func sha256Digest(b []byte) string {
	h, _, _ := v1.SHA256(bytes.NewReader(b))
	return h.String()
}

// TestSaveLoadKeepsID: box save then box load (into another store) gives
// the same image id in both formats, the config and blobs being written
// as kept; an OCI archive of a pulled image keeps its manifest too. A
// layer without a kept blob is written anew: a new id, still loadable.
func TestSaveLoadKeepsID(t *testing.T) {
	gz := func(b []byte) []byte {
		var out bytes.Buffer
		zw := gzip.NewWriter(&out)
		zw.Write(b)
		zw.Close()
		return out.Bytes()
	}
	var ls []v1.Layer
	for _, b := range [][]byte{gz(layerTar("a")), layerTar("b"), gz(layerTar("a"))} {
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	img, err := mutate.AppendLayers(empty.Image, ls...)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Author = "linux", testPlat().Architecture, "someone"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	s := testStore(t)
	res, err := s.add(context.Background(), img, "test", "example.com/r:t", testPlat(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{DockerArchive, OCIArchive} {
		var buf bytes.Buffer
		if err := s.Save(context.Background(), &buf, []string{"example.com/r:t"}, format); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		back, err := testStore(t).Load(context.Background(), bytes.NewReader(buf.Bytes()), nil)
		if err != nil {
			t.Fatalf("%s: load: %v", format, err)
		}
		if len(back) != 1 || back[0].Image.ID != res.Image.ID {
			t.Errorf("%s: loaded %+v, want id %s", format, back[0].Image, res.Image.ID)
		}
		if format == OCIArchive && back[0].Image.Manifest != res.Image.Manifest {
			t.Errorf("oci-archive: manifest %s, pulled as %s", back[0].Image.Manifest, res.Image.Manifest)
		}
	}
	// Without a kept blob: written anew, a new id, loadable.
	os.Remove(s.keptPath(res.Image.Layers[1]))
	var buf bytes.Buffer
	if err := s.Save(context.Background(), &buf, []string{"example.com/r:t"}, DockerArchive); err != nil {
		t.Fatal(err)
	}
	back, err := testStore(t).Load(context.Background(), bytes.NewReader(buf.Bytes()), nil)
	if err != nil || back[0].Image.ID == res.Image.ID || len(back[0].Image.Layers) != 3 {
		t.Errorf("saved without a kept blob: %v, %+v", err, back)
	}
}
