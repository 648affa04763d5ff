package build

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// addSources returns ADD's sources and the directory they are in: the
// context's own, or for URLs the files downloaded into a directory of the
// build's (mode 0600, as docker's). The download's bytes go into the cache
// key, so a changed file at the URL reruns the step.
func (b *builder) addSources(srcs []string, checksum string) ([]string, string, error) {
	n := 0
	for _, s := range srcs {
		if strings.Contains(s, "://") || strings.HasPrefix(s, "git@") {
			n++
		}
	}
	if n == 0 {
		if checksum != "" {
			return nil, "", fmt.Errorf("ADD --checksum is for URLs only")
		}
		return srcs, b.Context, nil
	}
	if n != len(srcs) {
		return nil, "", fmt.Errorf("ADD of URLs and local files in one instruction is not supported by box build yet: split it")
	}
	dir, err := os.MkdirTemp(b.work, "add-")
	if err != nil {
		return nil, "", err
	}
	var names []string
	for _, s := range srcs {
		name, err := b.download(s, dir, checksum)
		if err != nil {
			return nil, "", err
		}
		names = append(names, name)
	}
	return names, dir, nil
}

// download fetches rawURL into dir and returns the file's name there.
func (b *builder) download(rawURL, dir, checksum string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || strings.HasSuffix(u.Path, ".git") {
		return "", fmt.Errorf("ADD %s: only http and https URLs are supported by box build (no git sources)", rawURL)
	}
	name := path.Base(u.Path)
	if name == "/" || name == "." || name == "" {
		name = "download"
	}
	req, err := http.NewRequestWithContext(b.ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("fetching %s: %w", rawURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("fetching %s: %s", rawURL, resp.Status)
	}
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("fetching %s: %w", rawURL, err)
	}
	if want, ok := strings.CutPrefix(checksum, "sha256:"); ok || checksum != "" {
		if got := hex.EncodeToString(h.Sum(nil)); !ok || got != want {
			return "", fmt.Errorf("ADD %s: checksum sha256:%s, want %s", rawURL, got, checksum)
		}
	}
	return name, nil
}

// inline writes a COPY's heredocs into a directory of the build's, files
// named as their delimiters (mode 0644), and returns them as the sources
// and that directory as their root; without heredocs, the sources and
// the context.
func (b *builder) inline(srcs []string, contents []instructions.SourceContent) ([]string, string, error) {
	if len(contents) == 0 {
		return srcs, b.Context, nil
	}
	if len(srcs) > 0 {
		return nil, "", fmt.Errorf("COPY of heredocs and files in one instruction is not supported by box build yet: split it")
	}
	dir, err := os.MkdirTemp(b.work, "heredoc-")
	if err != nil {
		return nil, "", err
	}
	var names []string
	for _, c := range contents {
		name := filepath.Base(filepath.Clean("/" + c.Path))
		if err := os.WriteFile(filepath.Join(dir, name), []byte(c.Data), 0o644); err != nil {
			return nil, "", err
		}
		if err := os.Chmod(filepath.Join(dir, name), 0o644); err != nil { // past the umask
			return nil, "", err
		}
		names = append(names, name)
	}
	return names, dir, nil
}
