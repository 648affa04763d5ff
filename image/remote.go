package image

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// registryConfig returns the settings for host, or the zero value.
func (s *Store) registryConfig(host string) RegistryConfig {
	if s.opts.Registry == nil {
		return RegistryConfig{}
	}
	return s.opts.Registry(hostName(host))
}

// Transport returns the HTTP transport for host: the system roots plus the
// configured CA, or no verification when the host is marked insecure.
func (s *Store) Transport(host string) (http.RoundTripper, error) {
	return s.transport(host, false)
}

// transport is Transport, also without verification when insecure.
func (s *Store) transport(host string, insecure bool) (http.RoundTripper, error) {
	rc := s.registryConfig(host)
	rc.Insecure = rc.Insecure || insecure
	t := http.DefaultTransport.(*http.Transport).Clone()
	// Layers stream in parallel from one host; the default of 2 idle
	// connections per host would reconnect for every blob.
	t.MaxIdleConnsPerHost = 16
	// A registry that takes a connection and never answers, or stops
	// sending in the middle of an answer, must not hold a pull (or a
	// mirror's fallback to its registry) for ever.
	t.ResponseHeaderTimeout = responseTimeout
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &stallConn{Conn: c}, nil
	}
	gate := &registryGate{next: t, host: host, allowHTTP: rc.Insecure || loopback(host)}
	if rc.CA == "" && !rc.Insecure {
		return gate, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if rc.CA != "" {
		pem, err := os.ReadFile(rc.CA)
		if err != nil {
			return nil, fmt.Errorf("reading CA for %s: %w", host, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("reading CA for %s: no certificates in %s", host, rc.CA)
		}
		cfg.RootCAs = pool
	}
	cfg.InsecureSkipVerify = rc.Insecure
	t.TLSClientConfig = cfg
	return gate, nil
}

// responseTimeout is how long box waits for a registry's response to
// begin, once its request is sent.
const responseTimeout = 60 * time.Second

// stallTimeout is how long a connection to a registry may go without a
// byte while box reads from it (a variable for the tests).
var stallTimeout = 60 * time.Second

// stallConn fails a read that waits longer than stallTimeout: a layer's
// download that stopped ends with "i/o timeout" instead of never.
type stallConn struct{ net.Conn }

func (c *stallConn) Read(b []byte) (int, error) {
	c.Conn.SetReadDeadline(time.Now().Add(stallTimeout))
	return c.Conn.Read(b)
}

// maxRedirects bounds the redirects of one request, as Go's own client
// does: go-containerregistry's redirect check replaces Go's and has no
// bound, so a registry answering each request with a redirect to itself
// held a pull for ever.
const maxRedirects = 10

// maxSmallBody bounds a response that is neither a manifest (the guard's
// MaxManifestSize) nor a blob: the ping of /v2/ and a token, which
// go-containerregistry reads whole.
const maxSmallBody = 1 << 20

// registryGate is the transport under everything box sends a registry
// (pull, push, login). It refuses plain HTTP to the registry unless it is
// configured insecure or on loopback: go-containerregistry falls back to
// HTTP by itself for a registry at a private address (10.x, 192.168.x)
// when HTTPS fails, and would send the user's credentials in the clear,
// to whoever answered on port 80. It also bounds redirects and the
// small responses (maxRedirects, maxSmallBody).
type registryGate struct {
	next      http.RoundTripper
	host      string
	allowHTTP bool
}

func (g *registryGate) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && req.URL.Host == g.host && !g.allowHTTP {
		return nil, fmt.Errorf("%s: refusing plain HTTP to a registry not on this machine; set insecure = true under [registries.%q] in config.toml if it has no HTTPS", g.host, g.host)
	}
	first, hops := req, 0
	for first.Response != nil && first.Response.Request != nil {
		first, hops = first.Response.Request, hops+1
	}
	if hops > maxRedirects {
		return nil, fmt.Errorf("%s: more than %d redirects for %s", g.host, maxRedirects, first.URL.Path)
	}
	resp, err := g.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	if _, kind, _, ok := splitPath(first.URL.Path); !ok || kind != "manifests" && kind != "blobs" {
		resp.Body = &limitedBody{Reader: io.LimitReader(resp.Body, maxSmallBody), Closer: resp.Body}
	}
	return resp, nil
}

type limitedBody struct {
	io.Reader
	io.Closer
}

// loopback reports whether host ("name[:port]") is this machine.
func loopback(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}

// candidates lists where to fetch ref from: each configured mirror (same
// repository and tag/digest on the mirror's host), then the registry itself.
func (s *Store) candidates(ref name.Reference) ([]name.Reference, error) {
	var out []name.Reference
	for _, m := range s.registryConfig(Host(ref)).Mirrors {
		opts := []name.Option{}
		if s.registryConfig(m).Insecure {
			opts = append(opts, name.Insecure)
		}
		mref, err := name.ParseReference(strings.TrimSuffix(m, "/")+"/"+ref.Context().RepositoryStr()+sep(ref)+ref.Identifier(), opts...)
		if err != nil {
			return nil, fmt.Errorf("mirror %q of %s: %w", m, Host(ref), err)
		}
		out = append(out, mref)
	}
	if s.registryConfig(Host(ref)).Insecure {
		r, err := name.ParseReference(ref.String(), name.Insecure)
		if err != nil {
			return nil, err
		}
		ref = r
	}
	return append(out, ref), nil
}

func sep(ref name.Reference) string {
	if _, ok := ref.(name.Digest); ok {
		return "@"
	}
	return ":"
}

// remoteOptions are the go-containerregistry options for talking to ref's host.
func (s *Store) remoteOptions(ctx context.Context, ref name.Reference, p *v1.Platform) ([]remote.Option, error) {
	t, err := s.Transport(ref.Context().RegistryStr())
	if err != nil {
		return nil, err
	}
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithTransport(newGuard(t)),
		// The keychain resolves per registry host, so a mirror never gets the
		// credentials of the registry it mirrors, and vice versa.
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithPlatform(*p),
		remote.WithJobs(pullJobs),
	}, nil
}

// pullJobs bounds parallel layer streams: enough to fill a link and both
// cores, few enough that every stream is drained promptly.
const pullJobs = 4

// ParsePlatform parses "os/arch[/variant]"; "" is this host's platform
// (go-containerregistry's own default is linux/amd64 whatever the host).
func ParsePlatform(s string) (*v1.Platform, error) {
	if s == "" {
		// No variant: an index may list linux/arm64 with or without
		// "v8" (both are the OCI spec's), and go-containerregistry
		// matches a variant asked for exactly.
		return &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}, nil
	}
	p, err := v1.ParsePlatform(s)
	if err != nil || p.OS == "" || p.Architecture == "" || strings.Count(s, "/") > 2 {
		return nil, fmt.Errorf("invalid platform %q: want os/arch[/variant], e.g. linux/arm64", s)
	}
	return p, nil
}

// PlatformMatches tells whether an image of platform have (as Image
// keeps it, os/arch[/variant]) is what want asks for: the same OS and
// architecture, and the same variant if want names one, a missing variant
// being its architecture's default, as containerd takes it (arm64 v8,
// arm v7, amd64 v1): many arm64 images' configs name none. An image whose
// platform is not known matches.
func PlatformMatches(have string, want *v1.Platform) bool {
	if have == "" {
		return true
	}
	p, err := v1.ParsePlatform(have)
	if err != nil {
		return true
	}
	return p.OS == want.OS && p.Architecture == want.Architecture &&
		(want.Variant == "" || defaultVariant(p) == defaultVariant(want))
}

func defaultVariant(p *v1.Platform) string {
	if p.Variant != "" {
		return p.Variant
	}
	return map[string]string{"arm64": "v8", "arm": "v7", "amd64": "v1"}[p.Architecture]
}

// explain turns registry and network errors into a message with a hint.
func explain(host string, err error) error {
	// A refusal names what it refused; the URL around it adds nothing.
	var rerr *refusedError
	if errors.As(err, &rerr) {
		return rerr
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch {
		case terr.StatusCode == http.StatusUnauthorized || hasCode(terr, transport.UnauthorizedErrorCode):
			return fmt.Errorf("%s: authentication required: run box login %s", host, host)
		case terr.StatusCode == http.StatusForbidden || hasCode(terr, transport.DeniedErrorCode):
			return fmt.Errorf("%s: access denied (check box login %s)", host, host)
		case terr.StatusCode == http.StatusNotFound || hasCode(terr, transport.ManifestUnknownErrorCode) || hasCode(terr, transport.NameUnknownErrorCode):
			return fmt.Errorf("image %w on %s", errImageNotFound, host)
		}
	}
	if tlsErr := certError(err); tlsErr != nil {
		return fmt.Errorf("TLS to %s: certificate not trusted (%v); set ca = \"/path/ca.pem\" or insecure = true under [registries.%q] in config.toml", host, tlsErr, host)
	}
	// Only real network failures: a bare errno also satisfies net.Error,
	// and a local "no such file" must not read as an unreachable registry.
	var operr *net.OpError
	var dnserr *net.DNSError
	if errors.As(err, &operr) || errors.As(err, &dnserr) {
		return fmt.Errorf("cannot reach registry %s: %v", host, rootCause(err))
	}
	return err
}

var errImageNotFound = errors.New("not found")

func hasCode(e *transport.Error, code transport.ErrorCode) bool {
	for _, d := range e.Errors {
		if d.Code == code {
			return true
		}
	}
	return false
}

// rootCause strips wrapping down to the innermost error, for short messages.
func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// certError finds a certificate verification failure in err.
func certError(err error) error {
	var uerr x509.UnknownAuthorityError
	var herr x509.HostnameError
	var ierr x509.CertificateInvalidError
	var cerr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &uerr):
		return uerr
	case errors.As(err, &herr):
		return herr
	case errors.As(err, &ierr):
		return ierr
	case errors.As(err, &cerr):
		return cerr.Err
	}
	return nil
}
