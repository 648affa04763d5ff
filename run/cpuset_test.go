package run

import (
	"slices"
	"strings"
	"testing"
)

func TestParseList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
	}{
		{"0", []int{0}},
		{"0-3", []int{0, 1, 2, 3}},
		{"5,0-1,1", []int{5, 0, 1}},
		{"2-2", []int{2}},
	} {
		got, err := parseList(tc.in, 1024)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("parseList(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "a", "-1", "3-1", "1-", "1,,2", "01", "+1", "1024", " 1", "0-2000"} {
		if got, err := parseList(bad, 1024); err == nil {
			t.Errorf("parseList(%q) = %v, want an error", bad, got)
		}
	}
}

func TestFormatList(t *testing.T) {
	for _, tc := range []struct {
		in   []int
		want string
	}{
		{nil, ""},
		{[]int{0}, "0"},
		{[]int{0, 1, 2, 5, 7, 8}, "0-2,5,7-8"},
	} {
		if got := formatList(tc.in); got != tc.want {
			t.Errorf("formatList(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseCpuset(t *testing.T) {
	if c, err := ParseCpuset("", ""); c != nil || err != nil {
		t.Errorf("no flags: %v, %v; want nil, nil", c, err)
	}
	c, err := ParseCpuset("0", "0")
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.pin()
	if err != nil || p.CPUs.Count() != 1 || !p.CPUs.IsSet(0) || !slices.Equal(p.Mems, []uint64{1}) {
		t.Errorf("pin of 0, 0 = %+v, %v", p, err)
	}
	for _, tc := range []struct{ cpus, mems, want string }{
		{"1023", "", "requested CPUs are not available - requested 1023, available: "},
		{"x", "", `invalid --cpuset-cpus "x"`},
		{"", "1000", "requested memory nodes are not available - requested 1000, available: "},
		{"", "0-", `invalid --cpuset-mems "0-"`},
	} {
		if _, err := ParseCpuset(tc.cpus, tc.mems); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseCpuset(%q, %q) = %v, want %q", tc.cpus, tc.mems, err, tc.want)
		}
	}
}
