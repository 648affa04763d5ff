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
	"time"

	"github.com/box-run/box/image/extract"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
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

// TestPullRefusesNestedIndexes: an index of an index of … is followed to
// maxManifests documents and no further.
func TestPullRefusesNestedIndexes(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	put := func(ref string, body []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPut, srv.URL+"/v2/deep/x/manifests/"+ref, bytes.NewReader(body))
		req.Header.Set("Content-Type", ociIndex)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("pushing %s: %v %v", ref, err, resp)
		}
		resp.Body.Close()
	}
	plat, err := ParsePlatform("")
	if err != nil {
		t.Fatal(err)
	}
	doc := []byte(`{"schemaVersion":2,"mediaType":"` + ociIndex + `","manifests":[]}`)
	for i := 0; i < 2*maxManifests; i++ {
		h, _, _ := v1.SHA256(bytes.NewReader(doc))
		put(h.String(), doc)
		doc, _ = json.Marshal(map[string]any{
			"schemaVersion": 2,
			"mediaType":     ociIndex,
			"manifests": []any{map[string]any{
				"mediaType": ociIndex, "size": len(doc), "digest": h.String(),
				"platform": map[string]string{"os": plat.OS, "architecture": plat.Architecture},
			}},
		})
	}
	put("latest", doc)
	s, err := Open(Options{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Pull(context.Background(), host+"/deep/x", PullOptions{})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("more than %d manifests and indexes for one image", maxManifests)) {
		t.Fatalf("pulling %d nested indexes: %v", 2*maxManifests, err)
	}
}

// TestRegistryGate: plain HTTP reaches only a registry that is insecure or
// on this machine; a registry redirecting each request to itself ends the
// pull after maxRedirects; an endless answer to the ping is cut short.
func TestRegistryGate(t *testing.T) {
	called := 0
	next := roundTripFunc(func(*http.Request) (*http.Response, error) {
		called++
		return response("text/plain", 0, io.NopCloser(strings.NewReader(""))), nil
	})
	for _, tc := range []struct {
		url       string
		allowHTTP bool
		refused   bool
	}{
		{"http://10.9.9.9:5000/v2/", false, true},
		{"http://10.9.9.9:5000/v2/", true, false},
		{"https://10.9.9.9:5000/v2/", false, false},
		{"http://storage.other:80/blob", false, false}, // another host: a blob's redirect, checked by digest, no credentials
	} {
		called = 0
		g := &registryGate{next: next, host: "10.9.9.9:5000", allowHTTP: tc.allowHTTP}
		req, _ := http.NewRequest(http.MethodGet, tc.url, nil)
		_, err := g.RoundTrip(req)
		if refused := err != nil; refused != tc.refused || (called == 1) == tc.refused {
			t.Errorf("%s (allowHTTP %v): error %v, sent %d; want refused %v", tc.url, tc.allowHTTP, err, called, tc.refused)
		} else if tc.refused && !strings.Contains(err.Error(), `set insecure = true under [registries."10.9.9.9:5000"]`) {
			t.Errorf("%s: %v; want the setting named", tc.url, err)
		}
	}
	for host, want := range map[string]bool{"localhost:5000": true, "127.0.0.1": true, "127.1.2.3:80": true, "[::1]:5000": true,
		"10.0.0.1:5000": false, "registry.local": false, "example.org": false, "localhost.example.org": false} {
		if got := loopback(host); got != want {
			t.Errorf("loopback(%q) = %v, want %v", host, got, want)
		}
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/v2/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			w.WriteHeader(http.StatusOK)
			io.Copy(w, &endless{}) // until the client stops reading
			return
		}
		http.Redirect(w, r, r.URL.Path, http.StatusFound) // to itself, for ever
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	s, err := Open(Options{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = s.Pull(ctx, host+"/loop/x", PullOptions{})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("more than %d redirects", maxRedirects)) {
		t.Fatalf("pulling from a registry that redirects to itself: %v", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestPullStalledLayer: a registry that stops sending in the middle of a
// layer ends the pull after stallTimeout, with the store left without the
// image.
func TestPullStalledLayer(t *testing.T) {
	old := stallTimeout
	stallTimeout = 2 * time.Second
	defer func() { stallTimeout = old }()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	img, err := random.Image(64<<10, 1)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+ld.String()) {
			size, _ := layers[0].Size()
			w.Header().Set("Content-Length", fmt.Sprint(size))
			w.WriteHeader(http.StatusOK)
			w.Write(make([]byte, 100))
			w.(http.Flusher).Flush()
			<-stop // and nothing more
			return
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	defer close(stop) // first: Close waits for the handler
	host := strings.TrimPrefix(srv.URL, "http://")
	ref, err := name.ParseReference(host + "/stall/x:latest")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	s, err := Open(Options{Root: t.TempDir(), Unpack: extract.Extract})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	_, err = s.Pull(ctx, host+"/stall/x", PullOptions{})
	if err == nil || !strings.Contains(err.Error(), "timeout") || ctx.Err() != nil {
		t.Fatalf("pulling a layer that stalls: %v (after %v)", err, time.Since(start))
	}
	if imgs, _ := s.Images(); len(imgs) != 0 {
		t.Fatalf("images recorded: %v", imgs)
	}
}
