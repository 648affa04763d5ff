package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestParseDevContainer(t *testing.T) {
	env := map[string]string{"TOKEN": "t0k"}
	data := []byte(`{
	// The spec's JSONC: comments and trailing commas.
	"name": "My project", /* a display name: not the shell's */
	"image": "debian:12",
	"containerEnv": {"A": "1", "WS": "${containerWorkspaceFolder}"},
	"remoteEnv": {"B": "${containerEnv:A}-${localEnv:TOKEN}", "C": "${localEnv:NOPE:dflt}", "D": null,},
	"mounts": [
		"source=${localWorkspaceFolder}/data,target=/data,type=bind,readonly",
		{"source": "cache", "target": "/cache", "type": "volume"},
	],
	"postCreateCommand": "echo made",
	"postStartCommand": {"b": ["echo", "two"], "a": "echo one"},
	"remoteUser": "vscode",
	"workspaceFolder": "/workspaces/${localWorkspaceFolderBasename}",
	"customizations": {"vscode": {"extensions": ["x"]}},
	"forwardPorts": [3000],
}`)
	orig := string(data)
	s, err := ParseDevContainer("/src/proj/.devcontainer/devcontainer.json", data, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != orig || s.Hash != HashOf([]byte(orig)) {
		t.Errorf("parsing changed the file's bytes, or its hash is not theirs")
	}
	if s.Image != "debian:12" || s.User != "vscode" || s.Project != "/src/proj" || s.Workdir != "/workspaces/proj" {
		t.Errorf("image %q user %q project %q workdir %q", s.Image, s.User, s.Project, s.Workdir)
	}
	wantEnv := map[string]string{"A": "1", "WS": "/workspaces/proj", "B": "1-t0k", "C": "dflt"}
	if len(s.Env) != len(wantEnv) {
		t.Errorf("env %v, want %v", s.Env, wantEnv)
	}
	for k, v := range wantEnv {
		if s.Env[k] != v {
			t.Errorf("env %s = %q, want %q", k, s.Env[k], v)
		}
	}
	if want := []string{"/src/proj/data:/data:ro", "cache:/cache"}; !slices.Equal(s.Volumes, want) {
		t.Errorf("volumes %q, want %q", s.Volumes, want)
	}
	if len(s.UserCreate) != 1 || !slices.Equal(s.UserCreate[0], []string{"/bin/sh", "-c", "echo made"}) {
		t.Errorf("postCreateCommand %q", s.UserCreate)
	}
	if len(s.UserStart) != 2 || s.UserStart[0][2] != "echo one" || !slices.Equal(s.UserStart[1], []string{"echo", "two"}) {
		t.Errorf("postStartCommand %q", s.UserStart)
	}
}

func TestParseDevContainerBuild(t *testing.T) {
	s, err := ParseDevContainer("/p/My Proj/.devcontainer/devcontainer.json", []byte(`{
		// comments and trailing commas, as the spec allows
		"build": {"dockerfile": "Dockerfile", "context": "..", "args": {"V": "1"}, "target": "dev",},
	}`), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	want := &ShellBuild{Dockerfile: "/p/My Proj/.devcontainer/Dockerfile", Context: "/p/My Proj", Args: map[string]string{"V": "1"}, Target: "dev"}
	if !reflect.DeepEqual(s.Build, want) {
		t.Errorf("build %+v, want %+v", s.Build, want)
	}
	if s.Image != "localhost/box-devcontainer/my-proj:latest" {
		t.Errorf("image %q", s.Image)
	}
	s, err = ParseDevContainer("/p/q/.devcontainer.json", []byte(`{"dockerFile": "../Dockerfile.dev"}`), func(string) string { return "" })
	if err != nil || s.Build == nil || s.Build.Dockerfile != "/p/Dockerfile.dev" || s.Build.Context != "/p/q" {
		t.Errorf("dockerFile: %+v, %v", s, err)
	}
}

func TestParseDevContainerErrors(t *testing.T) {
	for _, tc := range []struct{ data, want string }{
		{`{"image": "x",` + "\n" + `"build": {"context": ".."}}`, `dc.json:2: build: no dockerfile`},
		{`{"build": "Dockerfile"}`, `build: want an object`},
		{`{"image": "x", "features": {"ghcr.io/x/y:1": {}}}`, `features: box does not install devcontainer features`},
		{`{"image": "x", "dockerComposeFile": "c.yml"}`, `dockerComposeFile: box shell makes one container`},
		{`{"name": "no image"}`, `no "image" and no "build"`},
		{`{"image": 3}`, `dc.json:1: image: want a string, not a number`},
		{`{"image": "x",` + "\n\n" + `"containerEnv": ["A=1"]}`, `dc.json:3: containerEnv: want an object of strings`},
		{`{"image": "x", "remoteEnv": {"A": 1}}`, `remoteEnv: want an object of strings`},
		{`{"image": "x", "mounts": "source=/a,target=/b"}`, `mounts: want an array of mounts`},
		{`{"image": "x", "mounts": ["source=/a,target=/b,type=tmpfs"]}`, `type "tmpfs"`},
		{`{"image": "x", "mounts": ["source=rel,target=/b,type=bind"]}`, `a bind's source must be an absolute path`},
		{`{"image": "x", "mounts": [{"source": "/a", "target": "b", "type": "bind"}]}`, `the target must be an absolute path`},
		{`{"image": "x", "postCreateCommand": 1}`, `postCreateCommand: want a string, an array of strings or an object`},
		{`{"image": "x", "postStartCommand": [1]}`, `postStartCommand: want a string`},
		{`{"image": "x", "workspaceFolder": "rel"}`, `workspaceFolder: "rel" is not an absolute path`},
		{`{"image": "x" "remoteUser": "u"}`, `dc.json: line 1`},
		{`["image"]`, `want a JSON object`},
	} {
		_, err := ParseDevContainer("/p/dc.json", []byte(tc.data), func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line containing %q", tc.data, err, tc.want)
		}
	}
}

func TestProjectOf(t *testing.T) {
	for path, want := range map[string]string{
		"/a/proj/.devcontainer/devcontainer.json":    "/a/proj",
		"/a/proj/.devcontainer/go/devcontainer.json": "/a/proj",
		"/a/proj/.devcontainer.json":                 "/a/proj",
		"/elsewhere/my.json":                         "/elsewhere",
	} {
		if got := ProjectOf(path); got != want {
			t.Errorf("ProjectOf(%s) = %s, want %s", path, got, want)
		}
	}
}
