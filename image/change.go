package image

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// ApplyChanges applies Dockerfile instructions to an image config, as
// docker commit --change does: CMD, ENTRYPOINT (JSON or shell form), ENV,
// LABEL (KEY=VALUE pairs, or ENV's legacy "KEY VALUE"), EXPOSE, VOLUME,
// WORKDIR, USER and STOPSIGNAL.
//
// As a Dockerfile's, $VAR and ${VAR} in ENV, LABEL, EXPOSE, VOLUME,
// WORKDIR, USER and STOPSIGNAL take the config's environment as it is at
// that change (ENV PATH=$PATH:/opt/bin), quotes are removed, and single
// quotes keep a $ as it is; CMD and ENTRYPOINT are left to the shell.
func ApplyChanges(c *v1.Config, changes []string) error {
	for _, ch := range changes {
		instr, rest, _ := strings.Cut(strings.TrimSpace(ch), " ")
		rest = strings.TrimSpace(rest)
		if err := applyChange(c, strings.ToUpper(instr), rest); err != nil {
			return fmt.Errorf("change %q: %w", ch, err)
		}
	}
	return nil
}

// expander expands a word with c's environment, as buildkit's Dockerfile
// frontend does (its lexer: the same rules as box build's).
func expander(c *v1.Config) func(string) (string, error) {
	lex := shell.NewLex('\\')
	env := shell.EnvsFromSlice(c.Env)
	return func(w string) (string, error) {
		r, _, err := lex.ProcessWord(w, env)
		return r, err
	}
}

func applyChange(c *v1.Config, instr, rest string) error {
	if rest == "" {
		return fmt.Errorf("%s needs an argument", instr)
	}
	expand := expander(c)
	switch instr {
	case "WORKDIR", "USER", "STOPSIGNAL":
		var err error
		if rest, err = expand(rest); err != nil {
			return err
		}
	}
	switch instr {
	case "CMD":
		c.Cmd = commandForm(rest)
	case "ENTRYPOINT":
		c.Entrypoint = commandForm(rest)
	case "ENV":
		kvs, err := pairs(rest, expand)
		if err != nil {
			return err
		}
		// As a Dockerfile's ENV: a variable keeps its place.
		for _, kv := range kvs {
			k, _, _ := strings.Cut(kv, "=")
			if i := slices.IndexFunc(c.Env, func(e string) bool { return strings.HasPrefix(e, k+"=") }); i >= 0 {
				c.Env[i] = kv
			} else {
				c.Env = append(c.Env, kv)
			}
		}
	case "LABEL":
		kvs, err := pairs(rest, expand)
		if err != nil {
			return err
		}
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		for _, kv := range kvs {
			k, v, _ := strings.Cut(kv, "=")
			c.Labels[k] = v
		}
	case "EXPOSE", "VOLUME":
		words := jsonOrFields(rest)
		for _, w := range words {
			w, err := expand(w)
			if err != nil {
				return err
			}
			if instr == "VOLUME" {
				c.Volumes = addKey(c.Volumes, w)
				continue
			}
			if !strings.Contains(w, "/") {
				w += "/tcp"
			}
			c.ExposedPorts = addKey(c.ExposedPorts, w)
		}
	case "WORKDIR":
		// A relative one is from the working directory before (docker's).
		if !path.IsAbs(rest) {
			rest = path.Join("/", c.WorkingDir, rest)
		}
		c.WorkingDir = rest
	case "USER":
		c.User = rest
	case "STOPSIGNAL":
		c.StopSignal = rest
	default:
		return fmt.Errorf("unknown instruction %s (want CMD, ENTRYPOINT, ENV, LABEL, EXPOSE, VOLUME, WORKDIR, USER or STOPSIGNAL)", instr)
	}
	return nil
}

// commandForm is the exec form of a JSON array, else the shell form.
func commandForm(s string) []string {
	var argv []string
	if strings.HasPrefix(s, "[") && json.Unmarshal([]byte(s), &argv) == nil {
		return argv
	}
	return []string{"/bin/sh", "-c", s}
}

func jsonOrFields(s string) []string {
	var words []string
	if strings.HasPrefix(s, "[") && json.Unmarshal([]byte(s), &words) == nil {
		return words
	}
	return strings.Fields(s)
}

func addKey(m map[string]struct{}, k string) map[string]struct{} {
	if m == nil {
		m = map[string]struct{}{}
	}
	m[k] = struct{}{}
	return m
}

// pairs splits KEY=VALUE words, each expanded (quotes, variables); a
// first word without "=" is the legacy "KEY VALUE" form.
func pairs(s string, expand func(string) (string, error)) ([]string, error) {
	words, err := splitWords(s)
	if err != nil {
		return nil, err
	}
	if !strings.Contains(words[0], "=") {
		k, v, _ := strings.Cut(s, " ")
		v, err := expand(strings.TrimSpace(v))
		if err != nil {
			return nil, err
		}
		return []string{k + "=" + v}, nil
	}
	out := make([]string, 0, len(words))
	for _, w := range words {
		w, err := expand(w)
		if err != nil {
			return nil, err
		}
		if k, _, ok := strings.Cut(w, "="); !ok || k == "" {
			return nil, fmt.Errorf("%q is not KEY=VALUE", w)
		}
		out = append(out, w)
	}
	return out, nil
}

// splitWords splits s at spaces outside quotes, keeping the quotes and
// escapes for the expansion to remove.
func splitWords(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	var quote rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			escaped = false
		case r == '\\' && quote != '\'':
			escaped = true
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'':
			quote = r
		case r == ' ' || r == '\t':
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
			continue
		}
		cur.WriteRune(r)
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("nothing in %q", s)
	}
	return out, nil
}
