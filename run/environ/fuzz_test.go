package environ

import (
	"bytes"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func FuzzParseEnvFile(f *testing.F) {
	for _, s := range []string{"A=1\nB=2", "# c\n\n  A=1\n", "HOSTVAR\nMISSING\n", "HOSTVAR\r\nA=1\r\n", "\uFEFFA=1", "A=\n",
		"BAD KEY=1", "=v", "A=1\nB=\xff\n", "A=a=b\nT=  x  \n", "L=" + strings.Repeat("v", 5000)} {
		f.Add([]byte(s))
	}
	lookup := func(k string) (string, bool) { return "from-host", k == "HOSTVAR" }
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := ParseEnvFile(bytes.NewReader(data), lookup)
		if err != nil {
			return
		}
		if lines := bytes.Count(data, []byte("\n")) + 1; len(env) > lines {
			t.Fatalf("%d variables from %d lines", len(env), lines)
		}
		for _, kv := range env {
			k, _, ok := strings.Cut(kv, "=")
			if !ok || k == "" || strings.IndexFunc(k, unicode.IsSpace) >= 0 || strings.HasPrefix(k, "#") ||
				strings.Contains(kv, "\n") || !utf8.ValidString(kv) {
				t.Fatalf("%q: bad variable %q", data, kv)
			}
		}
		// Written back one a line (after an empty first line, where a BOM
		// would be taken off), the variables read the same.
		again := "\n" + strings.Join(env, "\n")
		got, err := ParseEnvFile(strings.NewReader(again), nil)
		if err != nil || strings.Join(got, "\x00") != strings.Join(env, "\x00") {
			t.Fatalf("%q gave %q; written back as %q it gives %q, %v", data, env, again, got, err)
		}
	})
}
