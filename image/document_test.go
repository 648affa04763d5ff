package image

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	ociManifest = string(types.OCIManifestSchema1)
	ociIndex    = string(types.OCIImageIndex)
	dockerV2    = string(types.DockerManifestSchema2)
	dockerList  = string(types.DockerManifestList)
)

// desc is a descriptor as JSON text.
func desc(mediaType string, size int64, hexDigit string) string {
	b, _ := json.Marshal(map[string]any{"mediaType": mediaType, "size": size, "digest": "sha256:" + strings.Repeat(hexDigit, 64)})
	return string(b)
}

var (
	cfgDesc   = desc("application/vnd.oci.image.config.v1+json", 100, "c")
	layerDesc = desc("application/vnd.oci.image.layer.v1.tar+gzip", 2000, "1")
	goodImage = `{"schemaVersion":2,"mediaType":"` + ociManifest + `","config":` + cfgDesc + `,"layers":[` + layerDesc + `]}`
	goodIndex = `{"schemaVersion":2,"mediaType":"` + ociIndex + `","manifests":[` + desc(ociManifest, 500, "a") + `]}`
)

func TestCheckDocument(t *testing.T) {
	for _, tc := range []struct {
		name, contentType, body string
		want                    string // "" to accept, else part of the error
	}{
		{"oci image", ociManifest, goodImage, ""},
		{"oci index", ociIndex, goodIndex, ""},
		{"parameters", ociManifest + "; charset=utf-8", goodImage, ""},
		{"no mediaType field", ociManifest, `{"schemaVersion":2,"config":` + cfgDesc + `,"layers":[]}`, ""},
		{"docker image", dockerV2, strings.Replace(goodImage, ociManifest, dockerV2, 1), ""},
		{"docker list", dockerList, strings.Replace(goodIndex, ociIndex, dockerList, 1), ""},

		{"image with manifests", ociManifest, strings.TrimSuffix(goodImage, "}") + `,"manifests":[]}`, `also lists "manifests"`},
		{"image with null manifests", ociManifest, strings.TrimSuffix(goodImage, "}") + `,"manifests":null}`, `also lists "manifests"`},
		{"image with Manifests", ociManifest, strings.TrimSuffix(goodImage, "}") + `,"Manifests":[]}`, `also lists "manifests"`},
		{"index with config", ociIndex, strings.TrimSuffix(goodIndex, "}") + `,"config":` + cfgDesc + `}`, `also has "config" or "layers"`},
		{"index with layers", ociIndex, strings.TrimSuffix(goodIndex, "}") + `,"layers":[]}`, `also has "config" or "layers"`},
		{"index served as image", ociManifest, goodIndex, "served as " + ociManifest + ` but its mediaType says "` + ociIndex + `"`},
		{"image served as index", ociIndex, goodImage, "served as " + ociIndex + ` but its mediaType says "` + ociManifest + `"`},
		{"docker served as oci", ociManifest, strings.Replace(goodImage, ociManifest, dockerV2, 1), `but its mediaType says "` + dockerV2 + `"`},
		{"no content type", "", goodImage, "not a manifest media type"},
		{"json content type", "application/json", `{"schemaVersion":2,"config":` + cfgDesc + `}`, "served as application/json, which is neither"},
		{"schema 1", string(types.DockerManifestSchema1Signed), `{}`, "schema 1"},
		{"fsLayers", ociManifest, `{"schemaVersion":1,"fsLayers":[]}`, "schema 1"},
		{"trailing data", ociManifest, goodImage + `{}`, "not valid JSON"},
		{"null", ociManifest, `null`, "not a JSON object"},
		{"bad digest", ociManifest, strings.Replace(goodImage, "sha256:cccc", "md5:cccc", 1), "not a valid image manifest"},
		{"newline in digest", ociManifest, strings.Replace(goodImage, "sha256:cccc", `sha256:\ncc`, 1), `non-hex character in hash: \n`},
		{"negative layer", ociManifest, strings.Replace(goodImage, `"size":2000`, `"size":-1`, 1), "negative size -1"},
		{"negative config", ociManifest, strings.Replace(goodImage, `"size":100`, `"size":-1`, 1), "outside 0 to the 8 MiB limit"},
		{"big config", ociManifest, strings.Replace(goodImage, `"size":100`, `"size":8388609`, 1), "image config sha256:cccccccccccc of 8388609 bytes"},
		{"two sizes", ociManifest, strings.Replace(goodImage, `]}`, `,`+desc("x", 7, "1")+`]}`, 1), "two sizes, 2000 and 7"},
		{"negative child", ociIndex, strings.Replace(goodIndex, `"size":500`, `"size":-1`, 1), "size -1"},
		{"embedded contradiction", ociIndex, `{"manifests":[{"mediaType":"` + ociManifest + `","size":10,"digest":"sha256:` + strings.Repeat("a", 64) +
			`","data":"` + b64(goodIndex) + `"}]}`, "embedded manifest sha256:aaaaaaaaaaaa: served as " + ociManifest},
		{"too large", ociManifest, `{"a":"` + strings.Repeat("x", MaxManifestSize) + `"}`, "over the 4 MiB limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := checkDocument(tc.contentType, []byte(tc.body))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("accepted, want an error with %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func b64(s string) string {
	b, _ := json.Marshal([]byte(s))
	return strings.Trim(string(b), `"`)
}
