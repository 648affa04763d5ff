package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// endless yields 'x' forever and counts what was taken.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	e.n += int64(len(p))
	return len(p), nil
}

func (e *endless) Close() error { return nil }

func response(contentType string, length int64, body io.ReadCloser) *http.Response {
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {contentType}}, ContentLength: length, Body: body}
}

// TestGuardManifestReadBound: a manifest is read to one byte past the
// limit at most, and not at all when its Content-Length is over it.
func TestGuardManifestReadBound(t *testing.T) {
	for _, tc := range []struct{ length, maxRead int64 }{
		{-1, MaxManifestSize + 1},
		{MaxManifestSize + 1, 0},
	} {
		body := &endless{}
		_, err := newGuard(nil).manifest("r/x:latest", "latest", response(ociManifest, tc.length, body))
		var rerr *refusedError
		if !errors.As(err, &rerr) || !strings.HasPrefix(err.Error(), "manifest of r/x:latest: ") || !strings.Contains(err.Error(), "4 MiB limit") {
			t.Errorf("Content-Length %d: error %v", tc.length, err)
		}
		if body.n > tc.maxRead {
			t.Errorf("Content-Length %d: read %d bytes, want at most %d", tc.length, body.n, tc.maxRead)
		}
	}
}

// TestSizedBody: a blob read the way go-containerregistry reads it (never
// past the declared size) fails as soon as one more byte arrives, and one
// of exactly its size reads to EOF.
func TestSizedBody(t *testing.T) {
	const size = 1000
	body := &endless{}
	sb := &sizedBody{ReadCloser: body, left: size, err: &refusedError{subject: "layer sha256:x", reason: "too long"}}
	b, err := io.ReadAll(io.LimitReader(sb, size))
	var rerr *refusedError
	if !errors.As(err, &rerr) || len(b) != size {
		t.Errorf("read %d bytes, error %v; want %d and the refusal", len(b), err, size)
	}
	if body.n > size+1 {
		t.Errorf("took %d bytes from the body, want at most %d", body.n, size+1)
	}

	exact := &sizedBody{ReadCloser: io.NopCloser(strings.NewReader(strings.Repeat("y", size))), left: size}
	if b, err := io.ReadAll(exact); err != nil || len(b) != size {
		t.Errorf("exact size: read %d bytes, error %v", len(b), err)
	}
	empty := &sizedBody{ReadCloser: io.NopCloser(strings.NewReader("z")), left: 0, err: rerr}
	if _, err := io.ReadAll(empty); !errors.As(err, &rerr) {
		t.Errorf("size 0 with a byte: error %v", err)
	}
}

// TestPullRefusesLyingIndex: go-containerregistry takes an index's word
// for the type of a child it fetches, so a child served as another type,
// or with another size, than its index lists is refused. The registry is
// go-containerregistry's, storing what it is given.
func TestPullRefusesLyingIndex(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	put := func(repo, ref, contentType string, body []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPut, srv.URL+"/v2/"+repo+"/manifests/"+ref, bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("pushing %s:%s: %v %v", repo, ref, err, resp)
		}
		resp.Body.Close()
	}
	digest := func(b []byte) string {
		h, _, _ := v1.SHA256(bytes.NewReader(b))
		return h.String()
	}
	plat, err := ParsePlatform("")
	if err != nil {
		t.Fatal(err)
	}
	// The child: an index (of nothing the pull gets to), pushed as one.
	child := []byte(`{"schemaVersion":2,"mediaType":"` + ociIndex + `","manifests":[]}`)
	for _, tc := range []struct {
		name, mediaType string
		size            int
		want            string
	}{
		{"type", ociManifest, len(child), "served as " + ociIndex + ` but its index lists it as "` + ociManifest + `"`},
		{"size", ociIndex, len(child) - 1, fmt.Sprintf("%d bytes but its index lists it with %d", len(child), len(child)-1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := "lying/" + tc.name
			put(repo, digest(child), ociIndex, child)
			index, _ := json.Marshal(map[string]any{
				"schemaVersion": 2,
				"mediaType":     ociIndex,
				"manifests": []any{map[string]any{
					"mediaType": tc.mediaType, "size": tc.size, "digest": digest(child),
					"platform": map[string]string{"os": plat.OS, "architecture": plat.Architecture, "variant": plat.Variant},
				}},
			})
			put(repo, "latest", ociIndex, index)
			s, err := Open(Options{Root: t.TempDir(), Registry: func(string) RegistryConfig { return RegistryConfig{Insecure: true} }})
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Pull(context.Background(), host+"/"+repo, PullOptions{})
			want := "manifest " + short(digest(child)) + " of " + host + "/" + repo + "@" + digest(child) + ": " + tc.want
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("error %v\nwant it to start %q", err, want)
			}
			if imgs, _ := s.Images(); len(imgs) != 0 {
				t.Fatalf("images recorded: %v", imgs)
			}
		})
	}
}
