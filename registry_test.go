package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/crypto/bcrypt"
)

// startRegistry serves go-containerregistry's in-process registry on
// loopback, wrapped only to inject faults a real registry never sends on
// purpose: a flipped byte in broken/corrupt's blobs, a slow link for slow,
// a link that stops after N bytes for stall/N/REPO (see wait-stall),
// and responses without Content-Length under hostile/chunked/. The
// hostile/ documents (see buildHostile) are stored in the registry when a
// script first asks for one.
func startRegistry() *httptest.Server {
	reg := registry.New(registry.Logger(discardLogger()))
	var seed sync.Once
	var seedErr error
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logOf(r.Host).add(r.Method + " " + r.URL.RequestURI())
		if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v2/hostile/") {
			seed.Do(func() { seedErr = seedHostile(reg) })
			if seedErr != nil {
				http.Error(w, seedErr.Error(), http.StatusInternalServerError)
				return
			}
			if rest, ok := strings.CutPrefix(r.URL.Path, "/v2/hostile/chunked/"); ok {
				r.URL.Path = "/v2/hostile/" + rest
				reg.ServeHTTP(&chunkedWriter{ResponseWriter: w}, r)
				return
			}
		}
		switch {
		case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v2/broken/corrupt/blobs/"):
			rec := httptest.NewRecorder()
			reg.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			if rec.Code == http.StatusOK && len(body) > 100 && body[0] == 0x1f && body[1] == 0x8b {
				body[len(body)/2] ^= 0xff
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(body)
		case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v2/slow/blobs/"):
			reg.ServeHTTP(&slowWriter{ResponseWriter: w}, r)
		case strings.HasPrefix(r.URL.Path, "/v2/stall/"):
			// /v2/stall/N/REPO/...: REPO, until N bytes are sent in all.
			n, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v2/stall/"), "/")
			limit, err := strconv.ParseInt(n, 10, 64)
			if err != nil {
				http.NotFound(w, r)
				return
			}
			r.URL.Path = "/v2/" + rest
			reg.ServeHTTP(&stallWriter{ResponseWriter: w, ctx: r.Context(), stall: stallOf(r.Host, n, limit)}, r)
		default:
			reg.ServeHTTP(w, r)
		}
	}))
}

// reqLog is what a registry was asked, one "METHOD URI" per request, for
// scripts that check what a push sent (see registry-log).
type reqLog struct {
	mu    sync.Mutex
	lines []string
}

// reqLogs are the logs of every registry, by host.
var reqLogs sync.Map

func logOf(host string) *reqLog {
	l, _ := reqLogs.LoadOrStore(host, &reqLog{})
	return l.(*reqLog)
}

func (l *reqLog) add(line string) {
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
}

// cmdRegistryLog prints the requests $REGISTRY received since the last
// "registry-log reset".
func cmdRegistryLog(ts *testscript.TestScript, neg bool, args []string) {
	l := logOf(ts.Getenv("REGISTRY"))
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(args) == 1 && args[0] == "reset" {
		l.lines = nil
		return
	}
	for _, line := range l.lines {
		fmt.Fprintln(ts.Stdout(), line)
	}
}

// cmdEnvFrom sets VAR to the first line of FILE.
func cmdEnvFrom(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: env-from FILE VAR")
	}
	line, _, _ := strings.Cut(ts.ReadFile(args[0]), "\n")
	ts.Setenv(args[1], strings.TrimSpace(line))
}

// stall is a registry path's budget of bytes: once N are sent, over all
// its responses, every response stops sending until its client goes.
type stall struct {
	mu      sync.Mutex
	left    int64
	stalled chan struct{} // closed once the budget is spent
}

// stalls are the stalls of every registry, by host and N.
var stalls sync.Map

func stallOf(host, n string, limit int64) *stall {
	st, _ := stalls.LoadOrStore(host+"/"+n, &stall{left: limit, stalled: make(chan struct{})})
	return st.(*stall)
}

// take returns how much of want may be sent, closing stalled when the
// budget runs out.
func (st *stall) take(want int) int {
	st.mu.Lock()
	defer st.mu.Unlock()
	n := int(min(int64(want), st.left))
	st.left -= int64(n)
	if st.left == 0 && n < want {
		select {
		case <-st.stalled:
		default:
			close(st.stalled)
		}
	}
	return n
}

// stallWriter sends a response while its stall's budget lasts, then
// blocks until the client hangs up: a registry that stops mid-pull.
type stallWriter struct {
	http.ResponseWriter
	ctx   context.Context
	stall *stall
}

func (s *stallWriter) Write(p []byte) (int, error) {
	n := s.stall.take(len(p))
	m, err := s.ResponseWriter.Write(p[:n])
	if err != nil || n == len(p) {
		return m, err
	}
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	<-s.ctx.Done()
	return m, s.ctx.Err()
}

// slowWriter paces a response at about 1 MB/s.
type slowWriter struct{ http.ResponseWriter }

func (s *slowWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		c := min(len(p), 32<<10)
		m, err := s.ResponseWriter.Write(p[:c])
		n += m
		if err != nil {
			return n, err
		}
		if f, ok := s.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		time.Sleep(30 * time.Millisecond)
		p = p[c:]
	}
	return n, nil
}

// push writes every fixture to host with the given remote options.
func (f *fixtures) push(host string, opts ...remote.Option) error {
	return f.pushOnly(host, nil, opts...)
}

// pushOnly pushes the named fixtures, or all of them when only is nil.
func (f *fixtures) pushOnly(host string, only []string, opts ...remote.Option) error {
	for ref, img := range f.images {
		if only != nil && !slices.Contains(only, ref) {
			continue
		}
		r, err := name.ParseReference(host + "/" + ref)
		if err != nil {
			return err
		}
		if err := remote.Write(r, img, opts...); err != nil {
			return fmt.Errorf("pushing %s: %w", r, err)
		}
	}
	for ref, idx := range f.indexes {
		if only != nil && !slices.Contains(only, ref) {
			continue
		}
		r, err := name.ParseReference(host + "/" + ref)
		if err != nil {
			return err
		}
		if err := remote.WriteIndex(r, idx, opts...); err != nil {
			return fmt.Errorf("pushing %s: %w", r, err)
		}
	}
	return nil
}

// tlsRegistry runs Debian's docker-registry (distribution v2) on loopback
// with TLS from a CA made here and htpasswd basic auth.
type tlsRegistry struct {
	host, caFile, user, pass string
	cmd                      *exec.Cmd
}

func startTLSRegistry(dir string) (*tlsRegistry, error) {
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		return nil, fmt.Errorf("end-to-end tests need Debian's docker-registry on PATH (apt-get install docker-registry): %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	caPEM, certPEM, keyPEM, err := makeCerts()
	if err != nil {
		return nil, err
	}
	r := &tlsRegistry{host: fmt.Sprintf("127.0.0.1:%d", port), caFile: filepath.Join(dir, "ca.pem"), user: "boxuser", pass: "s3cret-pass"}
	hash, err := bcrypt.GenerateFromPassword([]byte(r.pass), bcrypt.MinCost)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		"ca.pem":   caPEM,
		"cert.pem": certPEM,
		"key.pem":  keyPEM,
		"htpasswd": []byte(r.user + ":" + string(hash) + "\n"),
		"config.yml": []byte(fmt.Sprintf(`version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: %s
http:
  addr: %s
  tls:
    certificate: %s
    key: %s
auth:
  htpasswd:
    realm: box-test
    path: %s
`, filepath.Join(dir, "data"), r.host, filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "htpasswd"))),
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o600); err != nil {
			return nil, err
		}
	}
	r.cmd = exec.Command(bin, "serve", filepath.Join(dir, "config.yml"))
	var logs bytes.Buffer
	r.cmd.Stdout, r.cmd.Stderr = &logs, &logs
	if err := r.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting docker-registry: %w", err)
	}
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", r.host, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if i > 100 {
			r.stop()
			return nil, fmt.Errorf("docker-registry did not listen on %s: %s", r.host, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return r, nil
}

func (r *tlsRegistry) stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
	}
}

// pushOptions authenticate to r and trust its CA.
func (r *tlsRegistry) pushOptions() ([]remote.Option, error) {
	pem, err := os.ReadFile(r.caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool}
	return []remote.Option{remote.WithTransport(t), remote.WithAuth(&authn.Basic{Username: r.user, Password: r.pass})}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// makeCerts makes a CA and a certificate for 127.0.0.1 signed by it.
func makeCerts() (caPEM, certPEM, keyPEM []byte, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "box test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}

// chunkedWriter sends a response without Content-Length, as some proxies
// do: the client learns how long a body is only by reading it.
type chunkedWriter struct {
	http.ResponseWriter
	wrote bool
}

func (c *chunkedWriter) WriteHeader(code int) {
	c.Header().Del("Content-Length")
	c.wrote = true
	c.ResponseWriter.WriteHeader(code)
}

func (c *chunkedWriter) Write(p []byte) (int, error) {
	if !c.wrote {
		c.WriteHeader(http.StatusOK)
	}
	n, err := c.ResponseWriter.Write(p)
	c.ResponseWriter.(http.Flusher).Flush()
	return n, err
}

// hostileDoc is a manifest or index pushed as is, with its Content-Type,
// to repo under ref (a tag, or its digest for an index's child).
type hostileDoc struct {
	repo, ref, contentType string
	body                   []byte
}

var (
	hostileOnce  sync.Once
	hostileBlobs [][]byte
	hostileDocs  []hostileDoc
	hostileErr   error
)

// seedHostile stores the hostile documents and their blobs in reg, talking
// the registry protocol to it directly.
func seedHostile(reg http.Handler) error {
	hostileOnce.Do(func() { hostileBlobs, hostileDocs, hostileErr = buildHostile() })
	if hostileErr != nil {
		return hostileErr
	}
	do := func(method, path, contentType string, body []byte, want int) error {
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		reg.ServeHTTP(rec, req)
		if rec.Code != want {
			return fmt.Errorf("seeding hostile documents: %s %s: %d %s", method, path, rec.Code, rec.Body)
		}
		return nil
	}
	seeded := map[string]bool{}
	for _, d := range hostileDocs {
		for _, b := range hostileBlobs {
			if seeded[d.repo] {
				break
			}
			if err := do(http.MethodPost, "/v2/"+d.repo+"/blobs/uploads/?digest="+sha256Digest(b), "application/octet-stream", b, http.StatusCreated); err != nil {
				return err
			}
		}
		seeded[d.repo] = true
		if err := do(http.MethodPut, "/v2/"+d.repo+"/manifests/"+d.ref, d.contentType, d.body, http.StatusCreated); err != nil {
			return err
		}
	}
	return nil
}

func sha256Digest(b []byte) string {
	h, _, _ := v1.SHA256(bytes.NewReader(b))
	return h.String()
}

// buildHostile makes documents a registry will store and serve but box
// must refuse. Each is otherwise a valid image for this host: without the
// checks they pull fine. The images have one layer each, so a refused one
// leaves no other behind. Returns the blobs they use and the documents, a
// child before the index that lists it.
func buildHostile() ([][]byte, []hostileDoc, error) {
	var blobs [][]byte
	// image returns the config and the layer descriptor of a one-layer image.
	image := func(l v1.Layer) ([]byte, map[string]any, error) {
		config, err := imageOf(runtime.GOARCH, l).RawConfigFile()
		if err != nil {
			return nil, nil, err
		}
		rc, err := l.Compressed()
		if err != nil {
			return nil, nil, err
		}
		b, err := io.ReadAll(rc)
		if err != nil {
			return nil, nil, err
		}
		blobs = append(blobs, config, b)
		return config, descOf(string(types.OCILayer), b), nil
	}
	config, layer, err := image(gzipLayer([]entry{{name: "f", body: "hostile\n"}}))
	if err != nil {
		return nil, nil, err
	}
	noise := make([]byte, 256<<10)
	rand.Read(noise)
	noisyConfig, noisyLayer, err := image(gzipLayer([]entry{{name: "noise", body: string(noise)}}))
	if err != nil {
		return nil, nil, err
	}
	var cf v1.ConfigFile
	if err := json.Unmarshal(config, &cf); err != nil {
		return nil, nil, err
	}
	cf.Config.Labels = map[string]string{"pad": strings.Repeat("p", 9<<20)}
	bigConfig, err := json.Marshal(&cf)
	if err != nil {
		return nil, nil, err
	}
	// A second JSON value after the config: go-containerregistry's decoder
	// stops at the first, other readers may take the last.
	trailing := append(append([]byte{}, config...), []byte("\n{\"config\":{\"Cmd\":[\"/bin/false\"]}}")...)
	blobs = append(blobs, bigConfig, trailing)

	manifest := func(config []byte, layer map[string]any, extra map[string]any) []byte {
		m := map[string]any{
			"schemaVersion": 2,
			"mediaType":     types.OCIManifestSchema1,
			"config":        descOf(string(types.OCIConfigJSON), config),
			"layers":        []any{layer},
		}
		maps.Copy(m, extra)
		b, err := json.Marshal(m)
		if err != nil {
			panic(err)
		}
		return b
	}
	plain := manifest(config, layer, nil)
	child := descOf(string(types.OCIManifestSchema1), plain)
	child["platform"] = map[string]string{"os": "linux", "architecture": runtime.GOARCH}
	mixedIndex, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     types.OCIImageIndex,
		"manifests":     []any{child},
		"config":        descOf(string(types.OCIConfigJSON), config),
		"layers":        []any{layer},
	})
	if err != nil {
		return nil, nil, err
	}
	sized := func(size int) map[string]any {
		d := maps.Clone(noisyLayer)
		d["size"] = size
		return d
	}
	oci, ociIndex := string(types.OCIManifestSchema1), string(types.OCIImageIndex)
	docs := []hostileDoc{
		// The image the others are made of, served as it should be.
		{"hostile/plain", "latest", oci, manifest(noisyConfig, noisyLayer, nil)},
		// CVE-2021-41190: one document that reads as image and as index.
		{"hostile/mixed-image", "latest", oci, manifest(config, layer, map[string]any{"manifests": []any{child}})},
		{"hostile/mixed-index", sha256Digest(plain), oci, plain},
		{"hostile/mixed-index", "latest", ociIndex, mixedIndex},
		// The mediaType field contradicts the Content-Type.
		{"hostile/typed-index", "latest", oci, manifest(config, layer, map[string]any{"mediaType": ociIndex})},
		{"hostile/typed-docker", "latest", oci, manifest(config, layer, map[string]any{"mediaType": string(types.DockerManifestSchema2)})},
		{"hostile/config-trailing", "latest", oci, manifest(trailing, layer, nil)},
		// Over the limits.
		{"hostile/big-manifest", "latest", oci, manifest(config, layer, map[string]any{"annotations": map[string]string{"pad": strings.Repeat("p", 4<<20)}})},
		{"hostile/big-config", "latest", oci, manifest(bigConfig, layer, nil)},
		// The noisy layer declared at half its size, and with size -1
		// (go-containerregistry's "unknown").
		{"hostile/layer-short", "latest", oci, manifest(noisyConfig, sized(noisyLayer["size"].(int)/2), nil)},
		{"hostile/layer-unsized", "latest", oci, manifest(noisyConfig, sized(-1), nil)},
	}
	return blobs, docs, nil
}

// descOf is the descriptor of b as a JSON object.
func descOf(mediaType string, b []byte) map[string]any {
	return map[string]any{"mediaType": mediaType, "digest": sha256Digest(b), "size": len(b)}
}
