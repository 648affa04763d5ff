package run

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func strp(s string) *string { return &s }

func TestProcessArgs(t *testing.T) {
	img := v1.Config{Entrypoint: []string{"/entry", "-x"}, Cmd: []string{"serve"}}
	tests := []struct {
		name string
		img  v1.Config
		opts ProcessOptions
		want []string
		err  string
	}{
		{"image entrypoint and cmd", img, ProcessOptions{}, []string{"/entry", "-x", "serve"}, ""},
		{"args replace cmd", img, ProcessOptions{Args: []string{"a", "b"}}, []string{"/entry", "-x", "a", "b"}, ""},
		{"cmd only", v1.Config{Cmd: []string{"sh"}}, ProcessOptions{}, []string{"sh"}, ""},
		{"args replace cmd without entrypoint", v1.Config{Cmd: []string{"sh"}}, ProcessOptions{Args: []string{"ls", "-l"}}, []string{"ls", "-l"}, ""},
		{"--entrypoint drops image cmd", img, ProcessOptions{Entrypoint: strp("/bin/sh")}, []string{"/bin/sh"}, ""},
		{"--entrypoint with args", img, ProcessOptions{Entrypoint: strp("/bin/sh"), Args: []string{"-c", "id"}}, []string{"/bin/sh", "-c", "id"}, ""},
		{"--entrypoint '' with args", img, ProcessOptions{Entrypoint: strp(""), Args: []string{"ls"}}, []string{"ls"}, ""},
		{"--entrypoint '' alone", img, ProcessOptions{Entrypoint: strp("")}, nil, "no command specified"},
		{"empty image", v1.Config{}, ProcessOptions{}, nil, "no command specified"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args, _, _, _, err := Process(tt.img, tt.opts)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(args, tt.want) {
				t.Errorf("args = %q, want %q", args, tt.want)
			}
		})
	}
	// The image config is not modified through the returned slice.
	args, _, _, _, _ := Process(img, ProcessOptions{})
	args[0] = "changed"
	if img.Entrypoint[0] != "/entry" {
		t.Error("Process aliases the image's Entrypoint")
	}
}

func TestProcessEnv(t *testing.T) {
	dir := t.TempDir()
	file1 := filepath.Join(dir, "one.env")
	os.WriteFile(file1, []byte("# comment\nFILE=1\nSHARED=file\nFROMHOST\nMISSING\n"), 0o644)
	file2 := filepath.Join(dir, "two.env")
	os.WriteFile(file2, []byte("FILE=2\n"), 0o644)
	bad := filepath.Join(dir, "bad.env")
	os.WriteFile(bad, []byte("OK=1\nBAD KEY=1\n"), 0o644)
	host := map[string]string{"FROMHOST": "h", "HOSTONLY": "x", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := host[k]; return v, ok }
	img := v1.Config{Cmd: []string{"sh"}, Env: []string{"IMG=1", "SHARED=img", "PATH=/img/bin"}}

	tests := []struct {
		name string
		img  v1.Config
		opts ProcessOptions
		want []string
		err  string
	}{
		{"defaults", v1.Config{Cmd: []string{"sh"}}, ProcessOptions{Hostname: "abc"},
			[]string{"PATH=" + DefaultPath, "HOSTNAME=abc"}, ""},
		{"tty sets TERM", v1.Config{Cmd: []string{"sh"}}, ProcessOptions{TTY: true},
			[]string{"PATH=" + DefaultPath, "TERM=xterm"}, ""},
		{"TERM given wins", v1.Config{Cmd: []string{"sh"}}, ProcessOptions{TTY: true, Env: []string{"TERM=dumb"}},
			[]string{"PATH=" + DefaultPath, "TERM=dumb"}, ""},
		{"image PATH replaces default in place", img, ProcessOptions{Hostname: "h1"},
			[]string{"PATH=/img/bin", "HOSTNAME=h1", "IMG=1", "SHARED=img"}, ""},
		{"precedence image < env-file < -e", img, ProcessOptions{
			EnvFiles: []string{file1, file2},
			Env:      []string{"SHARED=flag", "NEW=n", "HOSTONLY", "NOTONHOST", "EMPTY", "HOSTNAME=mine", "HOME=/custom"},
			Hostname: "h1",
		}, []string{"PATH=/img/bin", "HOSTNAME=mine", "IMG=1", "SHARED=flag", "FILE=2", "FROMHOST=h", "NEW=n", "HOSTONLY=x", "EMPTY=", "HOME=/custom"}, ""},
		{"-e with empty value", v1.Config{Cmd: []string{"sh"}}, ProcessOptions{Env: []string{"A="}},
			[]string{"PATH=" + DefaultPath, "A="}, ""},
		{"-e without name", v1.Config{Cmd: []string{"sh"}}, ProcessOptions{Env: []string{"=x"}},
			nil, `invalid environment variable "=x": no name`},
		{"bad env file", img, ProcessOptions{EnvFiles: []string{bad}},
			nil, `reading env file "` + bad + `": line 2: variable name "BAD KEY" contains whitespace`},
		{"missing env file", img, ProcessOptions{EnvFiles: []string{filepath.Join(dir, "none")}},
			nil, "reading env file: open " + filepath.Join(dir, "none") + ": no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.opts.HostEnv == nil {
				tt.opts.HostEnv = lookup
			}
			_, env, _, _, err := Process(tt.img, tt.opts)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(env, tt.want) {
				t.Errorf("env =\n%q\nwant\n%q", env, tt.want)
			}
		})
	}
}

func TestProcessCwdUser(t *testing.T) {
	tests := []struct {
		name            string
		img             v1.Config
		opts            ProcessOptions
		wantCwd, wantUs string
		err             string
	}{
		{"defaults", v1.Config{}, ProcessOptions{}, "/", "", ""},
		{"image", v1.Config{WorkingDir: "/app", User: "nobody"}, ProcessOptions{}, "/app", "nobody", ""},
		{"flags win", v1.Config{WorkingDir: "/app", User: "nobody"}, ProcessOptions{Workdir: "/srv/../data/", User: "1000:1000"}, "/data", "1000:1000", ""},
		{"relative image workdir", v1.Config{WorkingDir: "app"}, ProcessOptions{}, "/app", "", ""},
		{"relative -w", v1.Config{}, ProcessOptions{Workdir: "data"}, "", "", `working directory "data" is not an absolute path`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.img.Cmd = []string{"sh"}
			tt.opts.HostEnv = func(string) (string, bool) { return "", false }
			_, _, cwd, user, err := Process(tt.img, tt.opts)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cwd != tt.wantCwd || user != tt.wantUs {
				t.Errorf("cwd, user = %q, %q; want %q, %q", cwd, user, tt.wantCwd, tt.wantUs)
			}
		})
	}
}

func TestProcessHostEnvDefault(t *testing.T) {
	t.Setenv("BOX_PROCESS_TEST", "from-os")
	_, env, _, _, err := Process(v1.Config{Cmd: []string{"sh"}}, ProcessOptions{Env: []string{"BOX_PROCESS_TEST"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(env, "\n"), "BOX_PROCESS_TEST=from-os") {
		t.Errorf("env = %q, want BOX_PROCESS_TEST from os.LookupEnv", env)
	}
}
