package format

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/box-run/box/image"
)

var (
	manifest = "sha256:" + strings.Repeat("12", 32)
	alpine   = &image.Image{
		ID: "sha256:" + strings.Repeat("ef", 32), Manifest: manifest,
		Names: []string{
			"docker.io/library/alpine:latest", "docker.io/library/alpine:3.20",
			"127.0.0.1:5000/tools/alpine:v1", "docker.io/library/alpine@" + manifest,
		},
		Layers: []string{"sha256:aa", "sha256:bb"}, Size: 3_620_000, Platform: "linux/arm64/v8",
		Created: time.Now().Add(-3 * 7 * 24 * time.Hour),
	}
	dangling = &image.Image{ID: "sha256:" + strings.Repeat("99", 32), Size: 10}
)

func TestInspectImage(t *testing.T) {
	cfg := &v1.ConfigFile{
		Architecture: "arm64", Variant: "v8", OS: "linux", Author: "me",
		Created: v1.Time{Time: time.Date(2024, 6, 1, 0, 0, 0, 5, time.UTC)},
		Config:  v1.Config{Cmd: []string{"/bin/sh"}, Labels: map[string]string{"a": "b"}},
	}
	got := InspectImage(alpine, cfg)
	want := &ImageJSON{
		ID:          alpine.ID,
		RepoTags:    []string{"alpine:latest", "alpine:3.20", "127.0.0.1:5000/tools/alpine:v1"},
		RepoDigests: []string{"alpine@" + manifest, "127.0.0.1:5000/tools/alpine@" + manifest},
		Created:     "2024-06-01T00:00:00.000000005Z", Author: "me", Config: cfg.Config,
		Architecture: "arm64", Variant: "v8", Os: "linux", Size: 3_620_000,
		RootFS:   RootFS{Type: "layers", Layers: []string{"sha256:aa", "sha256:bb"}},
		Metadata: ImageMetadata{LastTagTime: "0001-01-01T00:00:00Z"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("InspectImage =\n%+v\nwant\n%+v", got, want)
	}
	none := InspectImage(dangling, &v1.ConfigFile{})
	if none.RepoTags == nil || none.RepoDigests == nil || len(none.RepoTags)+len(none.RepoDigests) != 0 || none.Created != "" {
		t.Errorf("an image without names: %+v", none)
	}
}

func TestImageRows(t *testing.T) {
	type r struct{ repo, tag, digest, id string }
	for _, tc := range []struct {
		img   *image.Image
		trunc bool
		want  []r
	}{
		{alpine, true, []r{
			{"alpine", "latest", manifest, strings.Repeat("ef", 6)},
			{"alpine", "3.20", manifest, strings.Repeat("ef", 6)},
			{"127.0.0.1:5000/tools/alpine", "v1", manifest, strings.Repeat("ef", 6)},
			{"alpine", "<none>", manifest, strings.Repeat("ef", 6)},
		}},
		{dangling, false, []r{{"<none>", "<none>", "<none>", dangling.ID}}},
	} {
		var got []r
		for _, row := range ImageRows(tc.img, nil, tc.trunc) {
			got = append(got, r{row.Repository(), row.Tag(), row.Digest(), row.ID()})
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("rows of %v = %v, want %v", tc.img.Names, got, tc.want)
		}
	}
	row := ImageRows(alpine, nil, true)[0]
	if row.Size() != "3.62MB" || row.CreatedSince() != "3 weeks ago" || row.Containers() != "N/A" {
		t.Errorf("size %q created %q containers %q", row.Size(), row.CreatedSince(), row.Containers())
	}
	// docker's default table says N/A for an image without a date.
	tmpl, err := Parse(ImagesTable)
	if err != nil {
		t.Fatal(err)
	}
	out, err := tmpl.Render(ImagesColumns, []any{ImageRows(dangling, nil, true)[0]})
	want := "REPOSITORY   TAG       IMAGE ID       CREATED   SIZE\n<none>       <none>    999999999999   N/A       10B\n"
	if err != nil || string(out) != want {
		t.Errorf("default table = %q, %v; want %q", out, err, want)
	}
}
