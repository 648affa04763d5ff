package run

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
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
