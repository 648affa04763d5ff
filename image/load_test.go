package image

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/box-run/box/image/extract"
	"github.com/box-run/box/image/layertar"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func testStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(Options{
		Root:   t.TempDir(),
		Unpack: extract.Extract,
		Tar:    func(dir string, w io.Writer, o layertar.Options) error { return layertar.Write(w, dir, o) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// layerTar is a layer of one file, name, holding name.
func layerTar(name string) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(name))})
	tw.Write([]byte(name))
	tw.Close()
	return b.Bytes()
}

// tarOf is a tar of files, in the order given as name, content pairs.
func tarOf(files ...string) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for i := 0; i+1 < len(files); i += 2 {
		tw.WriteHeader(&tar.Header{Name: files[i], Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(files[i+1]))})
		tw.Write([]byte(files[i+1]))
	}
	tw.Close()
	return b.Bytes()
}

// loadFails loads archive into s, wants an error of one line containing
// want, and no image stored.
func loadFails(t *testing.T, s *Store, archive []byte, want string) {
	t.Helper()
	_, err := s.Load(context.Background(), bytes.NewReader(archive), nil)
	if err == nil {
		t.Fatalf("load succeeded, want an error with %q", want)
	}
	if msg := err.Error(); !strings.Contains(msg, want) || strings.Contains(msg, "\n") || strings.Contains(msg, s.Root()) {
		t.Errorf("load: %q, want one line with %q and no store path", msg, want)
	}
	if imgs, _ := s.Images(); len(imgs) != 0 {
		t.Errorf("load failed but stored %d images", len(imgs))
	}
}

func diffID(b []byte) string { return sha256Digest(b) }

func dockerConfig(rootfs string) string {
	return `{"architecture":"` + testPlat().Architecture + `","os":"linux","rootfs":` + rootfs + `}`
}

func testPlat() *v1.Platform { p, _ := ParsePlatform(""); return p }

func TestLoadDockerLayerCount(t *testing.T) {
	a, b := layerTar("a"), layerTar("b")
	one := dockerConfig(`{"type":"layers","diff_ids":["` + diffID(a) + `"]}`)
	manifest := `[{"Config":"c.json","RepoTags":["x:1"],"Layers":["a.tar","b.tar"]}]`
	loadFails(t, testStore(t), tarOf("manifest.json", manifest, "c.json", one, "a.tar", string(a), "b.tar", string(b)),
		"image config lists 1 layers but manifest.json 2")
	loadFails(t, testStore(t), tarOf("manifest.json", manifest, "c.json", dockerConfig("null"), "a.tar", string(a), "b.tar", string(b)),
		"image config lists 0 layers but manifest.json 2")
	// A layer manifest.json names but the archive lacks.
	loadFails(t, testStore(t), tarOf("manifest.json", manifest, "c.json", one, "a.tar", string(a)),
		`manifest.json names "b.tar", which the archive lacks`)
	// No image at all: refused as an empty OCI index is.
	loadFails(t, testStore(t), tarOf("manifest.json", "[]"), "no image in manifest.json")

	// As docker does, an image of no layers (FROM scratch, LABEL) loads.
	s := testStore(t)
	res, err := s.Load(context.Background(), bytes.NewReader(tarOf("manifest.json", `[{"Config":"c.json","RepoTags":["x:1"],"Layers":[]}]`, "c.json", dockerConfig("null"))), nil)
	if err != nil || len(res) != 1 || len(res[0].Image.Layers) != 0 {
		t.Fatalf("zero-layer load: %v, %+v", err, res)
	}
}

// TestLoadAllOrNothing: an archive whose second image fails stores
// nothing, the first included.
func TestLoadAllOrNothing(t *testing.T) {
	a := layerTar("a")
	cfg := dockerConfig(`{"type":"layers","diff_ids":["` + diffID(a) + `"]}`)
	bad := dockerConfig(`{"type":"layers","diff_ids":["` + diffID(layerTar("other")) + `"]}`)
	manifest := `[{"Config":"c.json","RepoTags":["x:1"],"Layers":["a.tar"]},{"Config":"d.json","RepoTags":["y:1"],"Layers":["a.tar"]}]`
	loadFails(t, testStore(t), tarOf("manifest.json", manifest, "c.json", cfg, "d.json", bad, "a.tar", string(a)), "corrupted layer")
	// A name docker refuses, on the second image.
	manifest = `[{"Config":"c.json","RepoTags":["x:1"],"Layers":["a.tar"]},{"Config":"c.json","RepoTags":["../x:1"],"Layers":["a.tar"]}]`
	loadFails(t, testStore(t), tarOf("manifest.json", manifest, "c.json", cfg, "a.tar", string(a)), `image name "../x:1"`)
}

// ociArchive writes imgs to an OCI layout, each annotated with its name,
// lets edit change the layout's directory, and tars it.
func ociArchive(t *testing.T, names []string, imgs []v1.Image, edit func(dir string)) []byte {
	t.Helper()
	dir := t.TempDir()
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for i, img := range imgs {
		if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{annotationName: names[i]})); err != nil {
			t.Fatal(err)
		}
	}
	if edit != nil {
		edit(dir)
	}
	var b bytes.Buffer
	if err := tarDir(&b, dir); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func testImage(t *testing.T, layers ...[]byte) v1.Image {
	t.Helper()
	var ls []v1.Layer
	for _, b := range layers {
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
	cf.OS, cf.Architecture = "linux", testPlat().Architecture
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestLoadOCIMissingBlob(t *testing.T) {
	one, two := testImage(t, layerTar("a")), testImage(t, layerTar("b"))
	d2, _ := two.Digest()
	loadFails(t, testStore(t), ociArchive(t, []string{"x:1", "y:1"}, []v1.Image{one, two}, func(dir string) {
		os.Remove(filepath.Join(dir, "blobs", "sha256", d2.Hex))
	}), "index.json names blob "+d2.String()+", which the archive lacks")
	ls, _ := two.Layers()
	ld, _ := ls[0].Digest()
	loadFails(t, testStore(t), ociArchive(t, []string{"x:1", "y:1"}, []v1.Image{one, two}, func(dir string) {
		os.Remove(filepath.Join(dir, "blobs", "sha256", ld.Hex))
	}), "manifest "+d2.String()+" names blob "+ld.String()+", which the archive lacks")
	loadFails(t, testStore(t), ociArchive(t, []string{"x:1", "../x"}, []v1.Image{one, two}, nil), `image name "../x"`)
	loadFails(t, testStore(t), ociArchive(t, nil, nil, nil), "no image in index.json")
}

// TestSizeCountsLayerOnce: a layer the manifest repeats is one blob.
func TestSizeCountsLayerOnce(t *testing.T) {
	a := layerTar("a")
	img := testImage(t, a, a, a)
	s := testStore(t)
	res, err := s.add(context.Background(), img, "test", "example.com/r:t", testPlat(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := img.Layers()
	size, _ := ls[0].Size()
	if len(res.Image.Layers) != 3 || res.Image.Size != size {
		t.Errorf("image of one layer thrice: %d layers, size %d, want 3 and %d", len(res.Image.Layers), res.Image.Size, size)
	}
}

// TestContentSize: an image's size is its layers' content, as docker's:
// the regular files' bytes and the symlinks' targets, each layer counted
// once, and not the tar's headers and padding.
func TestContentSize(t *testing.T) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "d/f", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1000})
	tw.Write(bytes.Repeat([]byte("x"), 1000))
	tw.WriteHeader(&tar.Header{Name: "d/l", Typeflag: tar.TypeSymlink, Linkname: "f23"})
	tw.WriteHeader(&tar.Header{Name: "d/h", Typeflag: tar.TypeLink, Linkname: "d/f"})
	tw.Close()
	a, c := b.Bytes(), layerTar("c")
	cfg := dockerConfig(`{"type":"layers","diff_ids":["` + diffID(a) + `","` + diffID(c) + `"]}`)
	manifest := `[{"Config":"c.json","RepoTags":["x:1"],"Layers":["a.tar","c.tar"]}]`
	s := testStore(t)
	res, err := s.Load(context.Background(), bytes.NewReader(tarOf("manifest.json", manifest, "c.json", cfg, "a.tar", string(a), "c.tar", string(c))), nil)
	if err != nil || len(res) != 1 {
		t.Fatalf("load: %v, %+v", err, res)
	}
	img := res[0].Image
	if want := int64(1000 + 3 + 1); img.Unpacked != want || img.ContentSize() != want {
		t.Errorf("Unpacked %d, ContentSize %d; want %d", img.Unpacked, img.ContentSize(), want)
	}
	if n, ok := s.LayerBytes(diffID(a)); !ok || n != 1003 {
		t.Errorf("LayerBytes = %d, %v; want 1003", n, ok)
	}
	// An image an older box recorded shows its compressed size.
	old := Image{Size: 77}
	if old.ContentSize() != 77 {
		t.Errorf("ContentSize of an old record = %d, want 77", old.ContentSize())
	}
}
