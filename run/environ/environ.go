// Package environ is the environment a container's process is given:
// docker's -e and --env-file (box run's and box exec's), and the ordered
// list they are merged in. Apart from package run so that box's quick
// paths (package cli/quick), which run before most of box initialises,
// read -e the way box exec does.
package environ

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ParseEnvFile reads an --env-file in docker's format: one KEY=VALUE per
// line, the value taken verbatim (no quotes are removed, no variables
// expanded, trailing spaces kept), blank lines and lines starting with # are
// skipped, leading whitespace is trimmed, and a bare KEY takes its value from
// lookup (the host environment) or is dropped when lookup does not know it.
func ParseEnvFile(r io.Reader, lookup func(string) (string, bool)) ([]string, error) {
	var env []string
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		// A Reader, not a Scanner: a value may be longer than a Scanner's buffer.
		raw, err := br.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if len(raw) == 0 && err != nil {
			return env, nil
		}
		raw = bytes.TrimSuffix(raw, []byte("\n"))
		if n == 1 {
			raw = bytes.TrimPrefix(raw, []byte("\uFEFF")) // editors on Windows write a BOM
		}
		if !utf8.Valid(raw) {
			return nil, fmt.Errorf("line %d: invalid UTF-8", n)
		}
		line := strings.TrimLeftFunc(string(raw), unicode.IsSpace)
		if line != "" && !strings.HasPrefix(line, "#") {
			key, value, hasValue := strings.Cut(line, "=")
			if !hasValue {
				// Docker trims a bare name; a CRLF file leaves a \r here.
				key = strings.TrimRightFunc(key, unicode.IsSpace)
			}
			if err := checkEnvKey(key); err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
			switch {
			case hasValue:
				env = append(env, key+"="+value)
			case lookup != nil:
				if v, ok := lookup(key); ok {
					env = append(env, key+"="+v)
				}
			}
		}
		if err != nil {
			return env, nil
		}
	}
}

// checkEnvKey applies docker's only rule for names: not empty, no
// whitespace. Anything else (dots, dashes) is passed on, as docker does.
func checkEnvKey(key string) error {
	if key == "" {
		return errors.New("no variable name")
	}
	if strings.IndexFunc(key, unicode.IsSpace) >= 0 {
		return fmt.Errorf("variable name %q contains whitespace", key)
	}
	return nil
}

// ExecEnv is box exec's -e and --env-file as docker reads them: the files
// first, then -e; a bare NAME takes the caller's value, or is left out
// when the caller has none. lookup nil is os.LookupEnv.
func ExecEnv(env, envFiles []string, lookup func(string) (string, bool)) ([]string, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	var e List
	for _, p := range envFiles {
		kvs, err := readEnvFile(p, lookup)
		if err != nil {
			return nil, err
		}
		for _, kv := range kvs {
			e.Set(kv)
		}
	}
	for _, kv := range env {
		key, _, hasValue := strings.Cut(kv, "=")
		if key == "" {
			return nil, fmt.Errorf("invalid environment variable %q: no name", kv)
		}
		if !hasValue {
			v, ok := lookup(key)
			if !ok {
				continue
			}
			kv = key + "=" + v
		}
		e.Set(kv)
	}
	return e.Slice(), nil
}

func readEnvFile(p string, lookup func(string) (string, bool)) ([]string, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("reading env file: %w", err)
	}
	defer f.Close()
	kvs, err := ParseEnvFile(f, lookup)
	if err != nil {
		return nil, fmt.Errorf("reading env file %q: %w", p, err)
	}
	return kvs, nil
}

// List is an ordered environment where setting a key again replaces its
// value in place.
type List struct {
	list  []string
	index map[string]int
}

// Set sets kv's key (K=V) to its value: in place if it is set already,
// else last.
func (e *List) Set(kv string) {
	key, _, _ := strings.Cut(kv, "=")
	if e.index == nil {
		e.index = map[string]int{}
	}
	if i, ok := e.index[key]; ok {
		e.list[i] = kv
		return
	}
	e.index[key] = len(e.list)
	e.list = append(e.list, kv)
}

// Slice is the list's K=V, in order.
func (e *List) Slice() []string { return e.list }
