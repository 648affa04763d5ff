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
			if want := []string{"A=change", "B=new", "PATH=/bin"}; !reflect.DeepEqual(c.Env, want) {
				t.Errorf("Env %q, want %q", c.Env, want)
			}
			if c.Labels["k"] != "new" || c.Labels["keep"] != "1" {
				t.Errorf("Labels %v", c.Labels)
			}
			if len(c.ExposedPorts) != 2 || c.User != "root" || c.WorkingDir != "/srv" {
				t.Errorf("ports %v, user %q, workdir %q", c.ExposedPorts, c.User, c.WorkingDir)
			}
			if from.Labels["k"] != "old" {
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
		{"entrypoint and cmd", []string{`CMD ["a"]`, `ENTRYPOINT ["/new"]`}, func(t *testing.T, c v1.Config) {
			if !reflect.DeepEqual(c.Cmd, []string{"a"}) || !reflect.DeepEqual(c.Entrypoint, []string{"/new"}) {
				t.Errorf("Cmd %q Entrypoint %q", c.Cmd, c.Entrypoint)
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
