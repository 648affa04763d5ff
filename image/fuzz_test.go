package image

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// FuzzDocument checks what checkDocument lets through to go-containerregistry:
// a document that go-containerregistry's parsers read the same whichever
// type they take it for, within the limits, and the same answer every time.
func FuzzDocument(f *testing.F) {
	for _, s := range []struct{ ct, body string }{
		{ociManifest, goodImage},
		{ociIndex, goodIndex},
		{dockerV2, strings.Replace(goodImage, ociManifest, dockerV2, 1)},
		{ociManifest, strings.TrimSuffix(goodImage, "}") + `,"manifests":[]}`},
		{ociIndex, strings.TrimSuffix(goodIndex, "}") + `,"layers":[]}`},
		{ociManifest, goodIndex},
		{ociIndex + "; charset=utf-8", `{"manifests":[{"mediaType":"` + ociManifest + `","size":10,"digest":"sha256:` + strings.Repeat("a", 64) + `","data":"` + b64(goodImage) + `"}]}`},
		{ociManifest, strings.Replace(goodImage, `"size":2000`, `"size":-1`, 1)},
		{ociManifest, `{"schemaVersion":2,"MANIFESTS":[],"config":{}}`},
		// go-containerregistry's digest parser repeats what it refuses.
		{ociManifest, `{"config":{"digest":"sha256:\n"}}`},
		{ociManifest, `{"mediaType":"a\nb"}`},
	} {
		f.Add(s.ct, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		c, err := checkDocument(ct, body)
		c2, err2 := checkDocument(ct, body)
		if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) || !reflect.DeepEqual(c, c2) {
			t.Fatalf("two checks disagree: %v / %v", err, err2)
		}
		if err != nil {
			if msg := err.Error(); msg == "" || strings.Contains(msg, "\n") {
				t.Fatalf("error is not one line: %q", msg)
			}
			return
		}
		checkPassed(t, c, body)
	})
}

// checkPassed asserts what a document that passed checkDocument guarantees.
func checkPassed(t *testing.T, c *checked, body []byte) {
	t.Helper()
	if len(body) > MaxManifestSize {
		t.Fatalf("passed %d bytes", len(body))
	}
	// go-containerregistry reads the document with a Decoder, which also
	// accepts what Unmarshal refuses; both of its readings must agree with
	// the type box passed it as.
	asImage, ierr := v1.ParseManifest(bytes.NewReader(body))
	asIndex, xerr := v1.ParseIndexManifest(bytes.NewReader(body))
	switch {
	case c.image != nil && c.index == nil:
		if !c.mediaType.IsImage() || ierr != nil {
			t.Fatalf("passed as image: type %s, parse error %v", c.mediaType, ierr)
		}
		if xerr == nil && len(asIndex.Manifests) > 0 {
			t.Fatalf("passed image manifest lists %d manifests when read as an index", len(asIndex.Manifests))
		}
		if asImage.MediaType != "" && asImage.MediaType != c.mediaType {
			t.Fatalf("passed image served as %s says %s", c.mediaType, asImage.MediaType)
		}
		if s := asImage.Config.Size; s < 0 || s > MaxConfigSize {
			t.Fatalf("passed config size %d", s)
		}
		for _, l := range asImage.Layers {
			if l.Size < 0 {
				t.Fatalf("passed layer size %d", l.Size)
			}
		}
	case c.index != nil && c.image == nil:
		if !c.mediaType.IsIndex() || xerr != nil {
			t.Fatalf("passed as index: type %s, parse error %v", c.mediaType, xerr)
		}
		if ierr == nil && (len(asImage.Layers) > 0 || asImage.Config.Digest != (v1.Hash{})) {
			t.Fatalf("passed index has a config or layers when read as an image manifest")
		}
		if asIndex.MediaType != "" && asIndex.MediaType != c.mediaType {
			t.Fatalf("passed index served as %s says %s", c.mediaType, asIndex.MediaType)
		}
		for _, d := range asIndex.Manifests {
			if d.Size < 0 || d.Size > MaxManifestSize {
				t.Fatalf("passed child size %d", d.Size)
			}
		}
	default:
		t.Fatalf("passed as neither or both: %+v", c)
	}
	if c.index == nil {
		return
	}
	var data [][]byte
	for _, d := range c.index.Manifests {
		if d.Data != nil && (d.MediaType.IsImage() || d.MediaType.IsIndex()) {
			data = append(data, d.Data)
		}
	}
	if len(data) != len(c.embedded) {
		t.Fatalf("%d embedded manifests, %d checked", len(data), len(c.embedded))
	}
	for i, e := range c.embedded {
		checkPassed(t, e, data[i])
	}
}

// FuzzConfig checks decodeConfig, the one reader of image configs at pull
// and at run: what it accepts is a JSON object that survives a round trip
// unchanged, so what box stores is what it later reads.
func FuzzConfig(f *testing.F) {
	f.Add([]byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:` + strings.Repeat("1", 64) + `"]},"config":{"Cmd":["/bin/sh"],"Env":["PATH=/bin"]}}`))
	f.Add([]byte(`{"created":"2024-01-02T03:04:05Z","history":[{"created_by":"x","empty_layer":true}],"config":{"ExposedPorts":{"80/tcp":{}},"Labels":{"a":"b"}}}`))
	f.Add([]byte(`{"os":"linux"}{"os":"windows"}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"rootfs":{"diff_ids":["md5:00"]}}`))
	f.Add([]byte(`{"rootfs":{"diff_ids":["sha256:\n"]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := decodeConfig(b)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		if len(b) > MaxConfigSize {
			t.Fatalf("accepted %d bytes", len(b))
		}
		// Whatever go-containerregistry's reader makes of it agrees.
		other, err := v1.ParseConfigFile(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("accepted a config go-containerregistry cannot read: %v", err)
		}
		first, err := json.Marshal(cfg)
		if err != nil {
			t.Fatalf("marshalling an accepted config: %v", err)
		}
		if o, _ := json.Marshal(other); !bytes.Equal(first, o) {
			t.Fatalf("the two readers disagree:\n%s\n%s", first, o)
		}
		again, err := decodeConfig(first)
		if err != nil {
			t.Fatalf("re-reading a marshalled config: %v\n%s", err, first)
		}
		if second, _ := json.Marshal(again); !bytes.Equal(first, second) {
			t.Fatalf("round trip changed the config:\n%s\n%s", first, second)
		}
	})
}

// FuzzRef checks references as box parses them: an accepted reference has
// a canonical full name that parses back to itself, that SplitName splits
// into its repository and tag, and whose short form, as listings show it,
// names the same image.
func FuzzRef(f *testing.F) {
	for _, s := range []string{
		"alpine", "alpine:3.20", "user/repo", "docker.io/library/alpine", "index.docker.io/library/alpine",
		"localhost:5000/a/b:t", "localhost/x", "127.0.0.1:5443/x", "[::1]:5000/x", "ghcr.io/o/r@sha256:" + hex64,
		"alpine@sha256:" + hex64, "r:t@sha256:" + hex64, "docker.io/foo.com/x", "docker.io/library/a/b",
		"docker.io/localhost/x", "UPPER/case", "a//b", "-x", "a:b:c", "", "../x", "..:5/x", "x:.t",
		// Found by fuzzing: a newline in go-containerregistry's message, and a
		// name whose full form ("library/" added) was too long to parse.
		"\n", strings.Repeat("0", 250),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := ParseRef(s)
		if err != nil {
			if msg := err.Error(); strings.ContainsAny(msg, "\r\n") || !strings.HasPrefix(msg, "invalid reference ") {
				t.Fatalf("error for %q is not one line naming the reference: %q", s, msg)
			}
			return
		}
		full := FullName(ref)
		again, err := ParseRef(full)
		if err != nil {
			t.Fatalf("full name %q of %q does not parse: %v", full, s, err)
		}
		if FullName(again) != full || Host(again) != Host(ref) {
			t.Fatalf("full name %q of %q parses to %q on %s", full, s, FullName(again), Host(again))
		}
		repo, tag := SplitName(full)
		if want := Host(ref) + "/" + ref.Context().RepositoryStr(); repo != want {
			t.Fatalf("SplitName(%q) repository %q, want %q", full, repo, want)
		}
		if wantTag := "<none>"; tag != ref.Identifier() && tag != wantTag {
			t.Fatalf("SplitName(%q) tag %q, want %q", full, tag, ref.Identifier())
		}
		for _, c := range strings.Split(ref.Context().RepositoryStr(), "/") {
			if !pathComponent.MatchString(c) {
				t.Fatalf("%q accepted with repository component %q", s, c)
			}
		}
		short := ShortName(full)
		back, err := ParseRef(short)
		if err != nil || FullName(back) != full {
			t.Fatalf("short name %q of %q names %v (%v)", short, full, back, err)
		}
	})
}
