package config

import (
	"errors"
	"fmt"

	"github.com/BurntSushi/toml"
)

// The leaf types below check TOML value types themselves instead of
// letting the decoder do it: the decoder's own type mismatch errors are
// plain strings, while an error returned from UnmarshalTOML comes back as
// a toml.ParseError that carries the key (LastKey) and its position.

type tomlString string

func (s *tomlString) UnmarshalTOML(v any) error {
	str, ok := v.(string)
	if !ok {
		return fmt.Errorf("expected string, got %s", describe(v))
	}
	*s = tomlString(str)
	return nil
}

type tomlBool bool

func (b *tomlBool) UnmarshalTOML(v any) error {
	x, ok := v.(bool)
	if !ok {
		return fmt.Errorf("expected boolean (true or false), got %s", describe(v))
	}
	*b = tomlBool(x)
	return nil
}

type tomlStrings []string

func (s *tomlStrings) UnmarshalTOML(v any) error {
	arr, ok := v.([]any)
	if !ok {
		return fmt.Errorf("expected array of strings, got %s", describe(v))
	}
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		str, ok := e.(string)
		if !ok {
			return fmt.Errorf("expected array of strings, got an element that is %s", describe(e))
		}
		out = append(out, str)
	}
	*s = out
	return nil
}

// describe names the TOML type of a decoded value for error messages.
func describe(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("string %q", v)
	case bool:
		return fmt.Sprintf("boolean %t", v)
	case int64:
		return fmt.Sprintf("integer %d", v)
	case float64:
		return fmt.Sprintf("float %g", v)
	case []any:
		return "array"
	case map[string]any:
		return "table"
	case []map[string]any:
		return "array of tables"
	}
	return "datetime" // the only TOML values left
}

// keyLine returns the line where key is defined in data, or the line of
// its nearest ancestor that has one (implicit tables such as "registries"
// in `[registries."docker.io"]` have none), or 0.
//
// BurntSushi/toml v1.6.0 records every key's position but only exposes it
// through a ParseError raised while decoding that key (MetaData has no
// position accessor). So we walk down to the key with Primitive values and
// decode it into lineProbe, whose UnmarshalTOML always fails, and read the
// position off the resulting ParseError. This reuses the library's own
// bookkeeping instead of re-parsing TOML by hand. It is only used for
// error messages, so decoding the file again is no concern.
func keyLine(data string, key toml.Key) int {
	for ; len(key) > 0; key = key[:len(key)-1] {
		if line := probeLine(data, key); line > 0 {
			return line
		}
	}
	return 0
}

func probeLine(data string, key toml.Key) int {
	var level map[string]toml.Primitive
	md, err := toml.Decode(data, &level)
	if err != nil {
		return 0
	}
	for i, k := range key {
		p, ok := level[k]
		if !ok {
			return 0
		}
		if i == len(key)-1 {
			var pe toml.ParseError
			if errors.As(md.PrimitiveDecode(p, &lineProbe{}), &pe) {
				return pe.Position.Line
			}
			return 0
		}
		// Fails for arrays of tables, which leaves the ancestor's line.
		level = nil
		if md.PrimitiveDecode(p, &level) != nil {
			return 0
		}
	}
	return 0
}

type lineProbe struct{}

func (*lineProbe) UnmarshalTOML(any) error { return errors.New("line probe") }
