package image

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ApplyChanges applies Dockerfile instructions to an image config, as
// docker commit --change does: CMD, ENTRYPOINT (JSON or shell form), ENV,
// LABEL (KEY=VALUE pairs, or ENV's legacy "KEY VALUE"), EXPOSE, VOLUME,
// WORKDIR, USER and STOPSIGNAL.
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

func applyChange(c *v1.Config, instr, rest string) error {
	if rest == "" {
		return fmt.Errorf("%s needs an argument", instr)
	}
	switch instr {
	case "CMD":
		c.Cmd = commandForm(rest)
	case "ENTRYPOINT":
		c.Entrypoint = commandForm(rest)
	case "ENV":
		kvs, err := pairs(rest, true)
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
		kvs, err := pairs(rest, true)
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

// pairs splits KEY=VALUE words, values in double quotes allowed; without
// any "=" it is the legacy "KEY VALUE" form.
func pairs(s string, legacy bool) ([]string, error) {
	words, err := splitQuoted(s)
	if err != nil {
		return nil, err
	}
	if legacy && !strings.Contains(words[0], "=") {
		k, v, _ := strings.Cut(s, " ")
		return []string{k + "=" + strings.TrimSpace(v)}, nil
	}
	for _, w := range words {
		if k, _, ok := strings.Cut(w, "="); !ok || k == "" {
			return nil, fmt.Errorf("%q is not KEY=VALUE", w)
		}
	}
	return words, nil
}

// splitQuoted splits s at spaces outside double quotes, removing the
// quotes and backslash escapes.
func splitQuoted(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inQuote, escaped, started := false, false, false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\':
			escaped, started = true, true
		case r == '"':
			inQuote, started = !inQuote, true
		case r == ' ' && !inQuote:
			if started {
				out = append(out, cur.String())
				cur.Reset()
				started = false
			}
		default:
			cur.WriteRune(r)
			started = true
		}
	}
	if inQuote {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if started {
		out = append(out, cur.String())
	}
	return out, nil
}
