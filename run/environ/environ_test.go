package environ

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseEnvFile(t *testing.T) {
	host := map[string]string{"HOSTVAR": "hv", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := host[k]; return v, ok }
	tests := []struct {
		name, in string
		want     []string
		err      string
	}{
		{"empty", "", nil, ""},
		{"basic", "A=1\nB=2", []string{"A=1", "B=2"}, ""},
		{"value verbatim", "Q=\"quoted\" \nS='x'\nE=a=b\nT=  spaced  \nV=$HOME\n", []string{`Q="quoted" `, "S='x'", "E=a=b", "T=  spaced  ", "V=$HOME"}, ""},
		{"comments and blanks", "# c\n\n   \n  # indented comment\nA=1\n", []string{"A=1"}, ""},
		{"leading whitespace trimmed", "  \tA=1\n", []string{"A=1"}, ""},
		{"bare from host", "HOSTVAR\nMISSING\nEMPTY\n", []string{"HOSTVAR=hv", "EMPTY="}, ""},
		{"bare with CRLF", "HOSTVAR\r\nA=1\r\n", []string{"HOSTVAR=hv", "A=1\r"}, ""},
		{"empty value", "A=\n", []string{"A="}, ""},
		{"BOM", "\uFEFFA=1\n", []string{"A=1"}, ""},
		{"odd names pass", "a.b-c=1\n", []string{"a.b-c=1"}, ""},
		{"space in name", "A=1\nBAD KEY=1\n", nil, `line 2: variable name "BAD KEY" contains whitespace`},
		{"space before =", "A =1\n", nil, `line 1: variable name "A " contains whitespace`},
		{"no name", "\n\n=value\n", nil, "line 3: no variable name"},
		{"invalid utf8", "A=1\nB=\xff\n", nil, "line 2: invalid UTF-8"},
		{"long line", "L=" + strings.Repeat("x", 200000) + "\n", []string{"L=" + strings.Repeat("x", 200000)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEnvFile(strings.NewReader(tt.in), lookup)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseEnvFileNilLookup(t *testing.T) {
	got, err := ParseEnvFile(strings.NewReader("BARE\nA=1\n"), nil)
	if err != nil || !reflect.DeepEqual(got, []string{"A=1"}) {
		t.Errorf("got %q, %v; want [A=1]", got, err)
	}
}
