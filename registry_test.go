package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/crypto/bcrypt"
)

// startRegistry serves go-containerregistry's in-process registry on
// loopback, wrapped only to inject faults a real registry never sends on
// purpose: a flipped byte in broken/corrupt's blobs, and a slow link for slow.
func startRegistry() *httptest.Server {
	reg := registry.New(registry.Logger(discardLogger()))
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
		default:
			reg.ServeHTTP(w, r)
		}
	}))
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
