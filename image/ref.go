package image

import (
	"fmt"
	"regexp"
	"strings"

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
		return nil, fmt.Errorf("invalid reference %q: %w", s, err)
	}
	// go-containerregistry accepts some names docker refuses ("-x", "a//b");
	// refuse them too, so a name means the same thing in both.
	for _, c := range strings.Split(ref.Context().RepositoryStr(), "/") {
		if !pathComponent.MatchString(c) {
			return nil, fmt.Errorf("invalid reference %q: repository component %q must be lowercase letters and digits separated by '.', '_', '__' or '-'", s, c)
		}
	}
	return ref, nil
}

// pathComponent is docker's grammar for one repository path component.
var pathComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$`)

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

// ShortName is how listings show a full name: "docker.io/library/" is dropped
// like docker does, other registries are kept.
func ShortName(full string) string {
	if rest, ok := strings.CutPrefix(full, dockerHub+"/library/"); ok {
		return rest
	}
	if rest, ok := strings.CutPrefix(full, dockerHub+"/"); ok {
		return rest
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
