package image

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// guard is the HTTP transport under go-containerregistry for one pull from
// one host: it sees every response before go-containerregistry reads it.
//
//   - A manifest or index is read to at most MaxManifestSize bytes (refused
//     unread when its Content-Length is larger) and must pass checkDocument;
//     one fetched as an index's child must have the type and size the index
//     lists it with, since go-containerregistry dispatches on the index's word.
//   - A blob a passed manifest declares must have the declared size: refused
//     unread on another Content-Length, and cut off at the first byte past
//     the size otherwise.
//
// go-containerregistry itself allows 100 MiB manifests, takes any Content-Type
// at its word, reads a blob declared with size -1 without limit, and reads a
// config whole into memory, whatever its size.
type guard struct {
	next http.RoundTripper

	mu        sync.Mutex
	declared  map[string]declared // by digest, from manifests passed so far
	manifests int                 // fetched so far
}

// maxManifests bounds the manifests and indexes one pull fetches: a tag's
// index and its platform's manifest are two, an index of indexes three.
// go-containerregistry follows nested indexes to any depth, and each may be
// MaxManifestSize, so a registry serving a chain of them held a pull and
// its memory without end.
const maxManifests = 8

// declared is what a passed manifest says of a blob or child manifest.
type declared struct {
	what      string // "layer", "image config" or "manifest"
	size      int64
	mediaType types.MediaType // of a child manifest
}

// refusedError is a registry response a pull will not use. It names what
// was refused, so callers print it as is.
type refusedError struct {
	subject string // "manifest sha256:… of host/repo:tag", "layer sha256:…"
	reason  string
}

func (e *refusedError) Error() string { return e.subject + ": " + e.reason }

func newGuard(next http.RoundTripper) *guard {
	return &guard{next: next, declared: map[string]declared{}}
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := g.next.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	// A blob may be redirected to storage elsewhere: what was asked for is
	// in the first request's path.
	first := req
	for first.Response != nil && first.Response.Request != nil {
		first = first.Response.Request
	}
	repo, kind, id, ok := splitPath(first.URL.Path)
	switch {
	case !ok:
		return resp, nil
	case kind == "manifests":
		sep := ":"
		if strings.Contains(id, ":") {
			sep = "@"
		}
		return g.manifest(hostName(first.URL.Host)+"/"+repo+sep+id, id, resp)
	default:
		return g.blob(id, resp)
	}
}

// splitPath splits "/v2/<repo>/manifests|blobs/<id>".
func splitPath(p string) (repo, kind, id string, ok bool) {
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		return "", "", "", false
	}
	i := strings.LastIndex(rest, "/")
	if i < 0 {
		return "", "", "", false
	}
	repo, id = rest[:i], rest[i+1:]
	j := strings.LastIndex(repo, "/")
	if j < 0 {
		return "", "", "", false
	}
	repo, kind = repo[:j], repo[j+1:]
	if repo == "" || id == "" || (kind != "manifests" && kind != "blobs") {
		return "", "", "", false
	}
	return repo, kind, id, true
}

// manifest reads and checks a manifest or index fetched as ref ("host/repo:tag"
// or "host/repo@digest", id being the tag or digest).
func (g *guard) manifest(ref, id string, resp *http.Response) (*http.Response, error) {
	defer resp.Body.Close()
	tooLarge := &refusedError{subject: "manifest of " + ref, reason: "larger than the " + mib(MaxManifestSize) + " limit for manifests"}
	if resp.ContentLength > MaxManifestSize {
		tooLarge.reason = fmt.Sprintf("%d bytes, over the %s limit for manifests", resp.ContentLength, mib(MaxManifestSize))
		return nil, tooLarge
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxManifestSize+1))
	if err != nil {
		return nil, err
	}
	if len(body) > MaxManifestSize {
		return nil, tooLarge
	}
	digest, _, err := v1.SHA256(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	refuse := func(reason string) error {
		return &refusedError{subject: "manifest " + short(digest.String()) + " of " + ref, reason: reason}
	}
	doc, err := checkDocument(resp.Header.Get("Content-Type"), body)
	if err != nil {
		return nil, refuse(err.Error())
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.manifests++; g.manifests > maxManifests {
		return nil, refuse(fmt.Sprintf("more than %d manifests and indexes for one image (indexes nested too deep)", maxManifests))
	}
	if d, ok := g.declared[id]; ok && d.what == "manifest" {
		if d.mediaType != doc.mediaType {
			return nil, refuse(fmt.Sprintf("served as %s but its index lists it as %q", doc.mediaType, d.mediaType))
		}
		if d.size != int64(len(body)) {
			return nil, refuse(fmt.Sprintf("%d bytes but its index lists it with %d", len(body), d.size))
		}
	}
	g.record(doc)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	// Parameters dropped: go-containerregistry compares the header whole.
	resp.Header.Set("Content-Type", string(doc.mediaType))
	return resp, nil
}

// record notes the sizes doc declares; g.mu is held. checkImageSizes
// refused a digest with two sizes in one manifest; across manifests the
// first size stays.
func (g *guard) record(doc *checked) {
	note := func(h v1.Hash, d declared) {
		if _, ok := g.declared[h.String()]; !ok {
			g.declared[h.String()] = d
		}
	}
	if m := doc.image; m != nil {
		note(m.Config.Digest, declared{what: "image config", size: m.Config.Size})
		for _, l := range m.Layers {
			note(l.Digest, declared{what: "layer", size: l.Size})
		}
	}
	if ix := doc.index; ix != nil {
		for _, d := range ix.Manifests {
			note(d.Digest, declared{what: "manifest", size: d.Size, mediaType: d.MediaType})
		}
	}
	for _, e := range doc.embedded {
		g.record(e)
	}
}

// blob holds a blob to the size its manifest declared. A blob no passed
// manifest declared keeps go-containerregistry's own checks.
func (g *guard) blob(id string, resp *http.Response) (*http.Response, error) {
	g.mu.Lock()
	d, ok := g.declared[id]
	g.mu.Unlock()
	if !ok || d.what == "manifest" {
		return resp, nil
	}
	subject := d.what + " " + short(id)
	if resp.ContentLength >= 0 && resp.ContentLength != d.size {
		resp.Body.Close()
		return nil, &refusedError{subject: subject, reason: fmt.Sprintf("the registry sends %d bytes but the manifest declares %d", resp.ContentLength, d.size)}
	}
	resp.Body = &sizedBody{ReadCloser: resp.Body, left: d.size, err: &refusedError{subject: subject,
		reason: fmt.Sprintf("the registry sent more than the %d bytes the manifest declares", d.size)}}
	return resp, nil
}

// sizedBody fails as soon as its body has more than left bytes. Reads
// never go past the declared size, so the byte after it is probed as the
// size is reached: go-containerregistry stops reading there itself and
// would otherwise report a checksum mismatch, not an oversized blob.
type sizedBody struct {
	io.ReadCloser
	left int64
	err  *refusedError
}

func (b *sizedBody) Read(p []byte) (int, error) {
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n := 0
	var err error
	if len(p) > 0 {
		n, err = b.ReadCloser.Read(p)
		b.left -= int64(n)
	}
	if b.left > 0 || err != nil {
		return n, err
	}
	var one [1]byte
	m, err := io.ReadFull(b.ReadCloser, one[:])
	switch {
	case m > 0:
		return n, b.err
	case errors.Is(err, io.EOF):
		return n, io.EOF
	}
	return n, err
}
