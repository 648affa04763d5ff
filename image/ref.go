package image

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/google/go-containerregistry/pkg/name"
)

// dockerHub is the registry host users write; go-containerregistry says
// index.docker.io, which is the API endpoint, not the name users know.
const dockerHub = "docker.io"

// ParseRef parses a reference the way docker does: "alpine" is
// docker.io/library/alpine:latest, "user/repo", "host:port/repo:tag",
// "repo@sha256:…".
func ParseRef(s string) (name.Reference, error) {
	if s == "" {
		return nil, fmt.Errorf("invalid reference \"\": empty")
	}
	ref, err := name.ParseReference(s)
	if err != nil {
		return nil, fmt.Errorf("invalid reference %q: %w", s, oneLineError{err})
	}
	// Docker's limit, on the name as normalized: go-containerregistry checks
	// the repository before it adds "library/", which could make a name
	// whose full form does not parse.
	if n := Host(ref) + "/" + ref.Context().RepositoryStr(); len(n) > nameMax {
		return nil, fmt.Errorf("invalid reference %q: name longer than %d characters", s, nameMax)
	}
	// go-containerregistry accepts some names docker refuses ("-x", "a//b",
	// a registry ".." or a tag ".x"); refuse them too, so a name means the
	// same thing in both and no name in the store is one docker would not take.
	if h := ref.Context().RegistryStr(); !validHost(h) {
		return nil, fmt.Errorf("invalid reference %q: registry host %q must be a host name or [IPv6 address], with an optional :port", s, h)
	}
	if t, ok := ref.(name.Tag); ok && !validTag(t.TagStr()) {
		return nil, fmt.Errorf("invalid reference %q: tag %q must be letters, digits, '_', '.' and '-', not starting with '.' or '-', at most 128", s, t.TagStr())
	}
	for _, c := range strings.Split(ref.Context().RepositoryStr(), "/") {
		if !pathComponent.MatchString(c) {
			return nil, fmt.Errorf("invalid reference %q: repository component %q must be lowercase letters and digits separated by '.', '_', '__' or '-'", s, c)
		}
	}
	return ref, nil
}

// oneLineError escapes control characters in the text of an error from a
// parser that repeats its input unquoted (go-containerregistry's reference
// and digest parsers do): a newline there must not break a one-line message.
type oneLineError struct{ err error }

func (e oneLineError) Error() string {
	msg := e.err.Error()
	if !strings.ContainsFunc(msg, unicode.IsControl) {
		return msg
	}
	q := strconv.QuoteToGraphic(msg)
	return q[1 : len(q)-1]
}

func (e oneLineError) Unwrap() error { return e.err }

// nameMax is docker's limit on the length of a name without tag or digest.
const nameMax = 255

// pathComponent is docker's grammar for one repository path component.
var pathComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$`)

// validHost and validTag are docker's grammar (distribution/reference)
// for a registry host (DNS-like components, or a bracketed IPv6 address,
// with an optional port) and a tag ([\w][\w.-]{0,127}). They are written
// out rather than regexps: compiling the tag's {0,127} cost every box
// process 2 ms of start-up in this package's initialiser.
func validHost(h string) bool {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		port := h[i+1:]
		if port == "" || strings.Trim(port, "0123456789") != "" {
			return false
		}
		h = h[:i]
	}
	if strings.HasPrefix(h, "[") {
		in, ok := strings.CutSuffix(h[1:], "]")
		return ok && in != "" && strings.Trim(in, "0123456789abcdefABCDEF:") == ""
	}
	for _, c := range strings.Split(h, ".") {
		if c == "" || c[0] == '-' || c[len(c)-1] == '-' || strings.Trim(c, alnum+"-") != "" {
			return false
		}
	}
	return true
}

func validTag(t string) bool {
	return t != "" && len(t) <= 128 && t[0] != '.' && t[0] != '-' && strings.Trim(t, alnum+"_.-") == ""
}

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// Host is the registry host of ref as users write it ("docker.io", "localhost:5000").
func Host(ref name.Reference) string {
	return hostName(ref.Context().RegistryStr())
}

func hostName(h string) string {
	switch h {
	case name.DefaultRegistry, "registry-1.docker.io":
		return dockerHub
	}
	return h
}

// FullName is the canonical form of ref stored in the index:
// "docker.io/library/alpine:latest" or "host/repo@sha256:…".
func FullName(ref name.Reference) string {
	repo := Host(ref) + "/" + ref.Context().RepositoryStr()
	switch r := ref.(type) {
	case name.Digest:
		return repo + "@" + r.DigestStr()
	case name.Tag:
		return repo + ":" + r.TagStr()
	}
	return repo + ":" + ref.Identifier()
}

// ShortName is how listings show a full name: "docker.io/library/" or
// "docker.io/" is dropped like docker does, other registries are kept. A
// prefix stays when the name without it would mean another image:
// "docker.io/foo.com/x" is not "foo.com/x", nor "docker.io/library/a/b" "a/b".
func ShortName(full string) string {
	for _, prefix := range []string{dockerHub + "/library/", dockerHub + "/"} {
		if rest, ok := strings.CutPrefix(full, prefix); ok {
			if ref, err := ParseRef(rest); err == nil && FullName(ref) == full {
				return rest
			}
		}
	}
	return full
}

// SplitName splits a full name into repository and tag ("<none>" for a digest name).
func SplitName(full string) (repo, tag string) {
	if i := strings.LastIndex(full, "@"); i >= 0 {
		return full[:i], "<none>"
	}
	if i := strings.LastIndex(full, ":"); i > strings.LastIndex(full, "/") {
		return full[:i], full[i+1:]
	}
	return full, "latest"
}
