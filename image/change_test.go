package image

import (
	"reflect"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestCommitConfig: docker commit's merge of --change over the
// container's config.
func TestCommitConfig(t *testing.T) {
	from := v1.Config{
		User: "app", WorkingDir: "/srv", StopSignal: "SIGINT",
		Env:          []string{"PATH=/bin", "A=container"},
		Cmd:          []string{"serve"},
		Entrypoint:   []string{"/entry"},
		Labels:       map[string]string{"k": "old", "keep": "1"},
		ExposedPorts: map[string]struct{}{"80/tcp": {}},
		Volumes:      map[string]struct{}{"/data": {}},
		ArgsEscaped:  true,
	}
	for _, tc := range []struct {
		name    string
		changes []string
		check   func(t *testing.T, c v1.Config)
	}{
		{"none", nil, func(t *testing.T, c v1.Config) {
			if !reflect.DeepEqual(c, from) {
				t.Errorf("got %+v, want the container's %+v", c, from)
			}
		}},
		{"env and labels over", []string{"ENV A=change B=new", "LABEL k=new", "EXPOSE 443", "USER root"}, func(t *testing.T, c v1.Config) {
			if want := []string{"PATH=/bin", "A=change", "B=new"}; !reflect.DeepEqual(c.Env, want) {
				t.Errorf("Env %q, want %q", c.Env, want)
			}
			if c.Labels["k"] != "new" || c.Labels["keep"] != "1" {
				t.Errorf("Labels %v", c.Labels)
			}
			if len(c.ExposedPorts) != 2 || c.User != "root" || c.WorkingDir != "/srv" {
				t.Errorf("ports %v, user %q, workdir %q", c.ExposedPorts, c.User, c.WorkingDir)
			}
			if from.Labels["k"] != "old" || len(from.Env) != 2 || len(from.ExposedPorts) != 1 {
				t.Error("the container's labels changed")
			}
		}},
		{"cmd keeps entrypoint", []string{`CMD ["other"]`}, func(t *testing.T, c v1.Config) {
			if !reflect.DeepEqual(c.Cmd, []string{"other"}) || !reflect.DeepEqual(c.Entrypoint, from.Entrypoint) || c.ArgsEscaped {
				t.Errorf("Cmd %q Entrypoint %q ArgsEscaped %v", c.Cmd, c.Entrypoint, c.ArgsEscaped)
			}
		}},
		{"entrypoint drops cmd", []string{`ENTRYPOINT ["/new"]`}, func(t *testing.T, c v1.Config) {
			if c.Cmd != nil || !reflect.DeepEqual(c.Entrypoint, []string{"/new"}) {
				t.Errorf("Cmd %q Entrypoint %q", c.Cmd, c.Entrypoint)
			}
		}},
		{"cmd then entrypoint", []string{`CMD ["a"]`, `ENTRYPOINT ["/new"]`}, func(t *testing.T, c v1.Config) {
			if !reflect.DeepEqual(c.Cmd, []string{"a"}) || !reflect.DeepEqual(c.Entrypoint, []string{"/new"}) {
				t.Errorf("Cmd %q Entrypoint %q", c.Cmd, c.Entrypoint)
			}
		}},
		{"entrypoint then cmd", []string{`ENTRYPOINT ["/new"]`, `CMD ["a"]`}, func(t *testing.T, c v1.Config) {
			if !reflect.DeepEqual(c.Cmd, []string{"a"}) || !reflect.DeepEqual(c.Entrypoint, []string{"/new"}) {
				t.Errorf("Cmd %q Entrypoint %q", c.Cmd, c.Entrypoint)
			}
		}},
		{"empty entrypoint keeps cmd", []string{`ENTRYPOINT []`}, func(t *testing.T, c v1.Config) {
			if !reflect.DeepEqual(c.Cmd, from.Cmd) || c.Entrypoint == nil || len(c.Entrypoint) != 0 {
				t.Errorf("Cmd %q Entrypoint %#v", c.Cmd, c.Entrypoint)
			}
		}},
		{"expanded as a Dockerfile's", []string{"ENV PATH=$PATH:/opt/bin Q='$PATH' W=\"two words\"", "ENV D=/data", "WORKDIR ${D}/sub", `LABEL l="$D x"`, "ENV legacy old $D"}, func(t *testing.T, c v1.Config) {
			if want := []string{"PATH=/bin:/opt/bin", "A=container", "Q=$PATH", "W=two words", "D=/data", "legacy=old /data"}; !reflect.DeepEqual(c.Env, want) {
				t.Errorf("Env %q, want %q", c.Env, want)
			}
			if c.WorkingDir != "/data/sub" || c.Labels["l"] != "/data x" {
				t.Errorf("WorkingDir %q, label %q", c.WorkingDir, c.Labels["l"])
			}
		}},
		{"relative workdir", []string{"WORKDIR sub"}, func(t *testing.T, c v1.Config) {
			if c.WorkingDir != "/srv/sub" {
				t.Errorf("WorkingDir %q", c.WorkingDir)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := CommitConfig(from, tc.changes)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
	if _, err := CommitConfig(from, []string{"FROM x"}); err == nil {
		t.Error("FROM was taken")
	}
}

// TestPlatformMatches: run --platform's test of a local image.
func TestPlatformMatches(t *testing.T) {
	for _, tc := range []struct {
		have, want string
		ok         bool
	}{
		{"linux/arm64", "linux/arm64/v8", true},
		{"linux/arm64/v8", "linux/arm64", true},
		{"linux/amd64", "linux/arm64", false},
		{"linux/arm/v6", "linux/arm", true},
		{"linux/arm/v6", "linux/arm/v7", false},
		{"linux/arm", "linux/arm/v7", true},
		{"", "linux/s390x", true},
	} {
		w, err := ParsePlatform(tc.want)
		if err != nil {
			t.Fatal(err)
		}
		if got := PlatformMatches(tc.have, w); got != tc.ok {
			t.Errorf("PlatformMatches(%q, %q) = %v, want %v", tc.have, tc.want, got, tc.ok)
		}
	}
}
