package device

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseGPUs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want gpuRequest
		err  string
	}{
		{in: "all", want: gpuRequest{all: true}},
		{in: "2", want: gpuRequest{count: 2}},
		{in: "count=all", want: gpuRequest{all: true}},
		{in: "driver=nvidia,count=1", want: gpuRequest{count: 1}},
		{in: "device=0", want: gpuRequest{ids: []string{"0"}}},
		{in: `"device=0,1"`, want: gpuRequest{ids: []string{"0", "1"}}},
		{in: "device=0,1", want: gpuRequest{ids: []string{"0", "1"}}},
		{in: `"device=GPU-3a23c669,1",driver=nvidia`, want: gpuRequest{ids: []string{"GPU-3a23c669", "1"}}},
		{in: "0", err: "is not all, a count"},
		{in: "all,2", err: "give one of"},
		{in: "device=", err: "empty device"},
		{in: "driver=amd", err: "driver \"amd\""},
		{in: "all,capabilities=utility", err: "capabilities= is not supported"},
		{in: "bogus=1", err: "unknown field"},
	} {
		got, err := parseGPUs(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseGPUs(%q) = %+v, %v; want error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseGPUs(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestVisibleGPUs(t *testing.T) {
	env := func(kv ...string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1], true
				}
			}
			return "", false
		}
	}
	for _, tc := range []struct {
		env     func(string) (string, bool)
		ids     []string
		limited bool
	}{
		{env(), nil, false},
		{env("CUDA_VISIBLE_DEVICES", "1"), []string{"1"}, true},
		{env("CUDA_VISIBLE_DEVICES", "1", "NVIDIA_VISIBLE_DEVICES", "0, 2"), []string{"0", "2"}, true},
		{env("NVIDIA_VISIBLE_DEVICES", "all", "CUDA_VISIBLE_DEVICES", "1"), nil, false},
		{env("CUDA_VISIBLE_DEVICES", ""), nil, true},
		{env("CUDA_VISIBLE_DEVICES", "NoDevFiles"), nil, true},
		{env("NVIDIA_VISIBLE_DEVICES", "void"), nil, true},
	} {
		ids, from, limited := visibleGPUs(tc.env)
		if !reflect.DeepEqual(ids, tc.ids) || limited != tc.limited {
			t.Errorf("%s: got %q, %v; want %q, %v", from, ids, limited, tc.ids, tc.limited)
		}
	}
}

func TestParsePath(t *testing.T) {
	for in, want := range map[string]string{
		"/dev/null":                "/dev/null>/dev/null",
		"/dev/null:/dev/x":         "/dev/null>/dev/x",
		"/dev/null:rw":             "/dev/null>/dev/null",
		"/dev/null:/dev/x:rwm":     "/dev/null>/dev/x",
		"/dev/null:/dev/x/../y:rw": "/dev/null>/dev/y",
		"/dev/null:dev/x":          "error: not an absolute path",
		"/dev/null:/dev/x:r":       "error: cannot limit access",
		"/dev/null:/dev/x:rwz":     "error: want some of r, w and m",
		"/dev/box-none":            "error: does not exist on this host",
		"/dev":                     "error: is not a device node",
		"/dev/null:/a:rw:x":        "error: want /dev/HOST",
	} {
		d, err := parsePath(in)
		got := d.Source + ">" + d.Target
		if err != nil {
			got = "error: " + err.Error()
		}
		if !strings.HasPrefix(want, "error: ") && got != want || strings.HasPrefix(want, "error: ") && !strings.Contains(got, want[7:]) {
			t.Errorf("parsePath(%q) = %s; want %s", in, got, want)
		}
	}
}
