package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tailscale/hujson"
)

// A devcontainer.json is JSON with comments and trailing commas (the
// spec's "JSONC"); hujson, Tailscale's parser of that dialect, turns it
// into standard JSON with comments and commas blanked out, so byte offsets
// and therefore line numbers stay those of the file.

// DevContainerDir is the folder of a project's devcontainer.json.
const DevContainerDir = ".devcontainer"

// LoadDevContainer reads and checks a devcontainer.json as a shell
// dotfile, with ${localEnv:…} taken from box's own environment.
func LoadDevContainer(path string) (*ShellFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseDevContainer(path, b, os.Getenv)
}

// ParseDevContainer turns data, the devcontainer.json at path (absolute),
// into a shell dotfile: image or build, containerEnv and remoteEnv (env),
// mounts (volumes, bind or named), onCreateCommand, updateContentCommand
// and postCreateCommand (once, at creation) and postStartCommand (at every
// start), run as the user, remoteUser and workspaceFolder. The spec's other
// keys are ignored (most are an IDE's; initializeCommand would run on the
// host, postAttachCommand when an editor attaches), except those that would
// make a different container than the one box makes: features and compose
// are errors. A key box uses with a value of the wrong type is an error
// naming the file and line.
func ParseDevContainer(path string, data []byte, getenv func(string) string) (*ShellFile, error) {
	// Standardize blanks comments out in the buffer it is given.
	std, err := hujson.Standardize(bytes.Clone(data))
	if err != nil {
		return nil, &Error{File: path, Msg: strings.TrimPrefix(err.Error(), "hujson: "), Err: err}
	}
	keys, err := topLevel(std)
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error(), Err: err}
	}
	project := ProjectOf(path)
	s := &ShellFile{
		Path: path, Hash: HashOf(data), Project: project, Env: map[string]string{},
		Share: maps.Clone(ShareKeys),
	}
	at := func(k string) int { return lineAt(std, keys[k].off) }
	bad := func(k, format string, args ...any) error {
		return &Error{File: path, Line: at(k), Msg: k + ": " + fmt.Sprintf(format, args...)}
	}
	for _, k := range []string{"features", "dockerComposeFile"} {
		if v, ok := keys[k]; ok && string(v.raw) != "null" {
			what := "box does not install devcontainer features: install what they would in the Dockerfile (\"build\") instead"
			if k == "dockerComposeFile" {
				what = "box shell makes one container, not a compose project: name an image in \"image\" or a Dockerfile in \"build\" instead"
			}
			return nil, bad(k, "%s", what)
		}
	}
	build, err := devBuild(path, keys, bad)
	if err != nil {
		return nil, err
	}
	var image, user, containerUser, folder string
	for _, f := range []struct {
		key string
		dst *string
	}{{"image", &image}, {"remoteUser", &user}, {"containerUser", &containerUser}, {"workspaceFolder", &folder}} {
		if v, ok := keys[f.key]; ok {
			if err := json.Unmarshal(v.raw, f.dst); err != nil {
				return nil, bad(f.key, "want a string, not %s", kindOf(v.raw))
			}
		}
	}
	var containerEnv, remoteEnv map[string]*string
	for k, dst := range map[string]*map[string]*string{"containerEnv": &containerEnv, "remoteEnv": &remoteEnv} {
		if v, ok := keys[k]; ok && string(v.raw) != "null" && (json.Unmarshal(v.raw, dst) != nil || v.raw[0] != '{') {
			return nil, bad(k, "want an object of strings (NAME: value), not %s", kindOf(v.raw))
		}
	}
	if build != nil {
		// box build names the image after the project: a shell's image of
		// its own, rebuilt (from the build cache) by --rebuild.
		image = "localhost/box-devcontainer/" + strings.ToLower(safeName(filepath.Base(project))) + ":latest"
	}
	if image == "" {
		return nil, &Error{File: path, Msg: "no \"image\" and no \"build\": box shell makes the container from an image or a Dockerfile"}
	}
	if user == "" {
		user = containerUser
	}
	if strings.ContainsAny(user, ":\n") {
		return nil, bad("remoteUser", "%q is not a user name", user)
	}
	if folder != "" && !strings.HasPrefix(folder, "/") {
		return nil, bad("workspaceFolder", "%q is not an absolute path", folder)
	}
	sub := substituter{project: project, getenv: getenv, env: map[string]string{}}
	sub.folder = sub.do(folder)
	if sub.folder == "" {
		sub.folder = project
	}
	if build != nil {
		for k, v := range build.Args {
			build.Args[k] = sub.do(v)
		}
	}
	s.Image, s.User, s.Build = sub.do(image), user, build
	if sub.folder != project {
		s.Workdir = filepath.Clean(sub.folder)
	}
	for _, k := range slices.Sorted(maps.Keys(containerEnv)) {
		if v := containerEnv[k]; v != nil {
			sub.env[k] = sub.do(*v)
			s.Env[k] = sub.env[k]
		}
	}
	for _, k := range slices.Sorted(maps.Keys(remoteEnv)) {
		if v := remoteEnv[k]; v != nil {
			s.Env[k] = sub.do(*v)
		}
	}
	for k := range s.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return nil, &Error{File: path, Msg: fmt.Sprintf("%q is not a variable name", k)}
		}
	}
	if v, ok := keys["mounts"]; ok {
		var ms []json.RawMessage
		if err := json.Unmarshal(v.raw, &ms); err != nil {
			return nil, bad("mounts", "want an array of mounts")
		}
		for _, m := range ms {
			vol, err := devMount(m, sub.do)
			if err != nil {
				return nil, bad("mounts", "%v", err)
			}
			s.Volumes = append(s.Volumes, vol)
		}
	}
	for k, dst := range map[string]*[][]string{"onCreateCommand": &s.UserOnCreate, "updateContentCommand": &s.UserUpdate,
		"postCreateCommand": &s.UserCreate, "postStartCommand": &s.UserStart} {
		if v, ok := keys[k]; ok {
			if *dst, err = devCommand(v.raw); err != nil {
				return nil, bad(k, "%v", err)
			}
		}
	}
	return s, nil
}

// ProjectOf is the project of the devcontainer.json at path: the folder
// holding .devcontainer, else the file's own folder (.devcontainer.json).
func ProjectOf(path string) string {
	for d := filepath.Dir(path); ; d = filepath.Dir(d) {
		if filepath.Base(d) == DevContainerDir {
			return filepath.Dir(d)
		}
		if d == filepath.Dir(d) {
			return filepath.Dir(path)
		}
	}
}

// DevContainerFiles are where a project's devcontainer.json may be,
// relative to its folder, in the order a lookup tries them.
var DevContainerFiles = []string{filepath.Join(DevContainerDir, "devcontainer.json"), ".devcontainer.json"}

type rawValue struct {
	raw json.RawMessage
	off int64 // where the value's key ends
}

// topLevel splits a JSON object into its members, keeping where each is.
func topLevel(std []byte) (map[string]rawValue, error) {
	dec := json.NewDecoder(bytes.NewReader(std))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("want a JSON object")
	}
	out := map[string]rawValue{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		off := dec.InputOffset()
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		out[t.(string)] = rawValue{raw: raw, off: off}
	}
	return out, nil
}

func lineAt(b []byte, off int64) int {
	if off <= 0 {
		return 0
	}
	return bytes.Count(b[:min(int(off), len(b))], []byte("\n")) + 1
}

func kindOf(raw json.RawMessage) string {
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

// devCommand reads a lifecycle command: a string (run by sh -c), an array
// (an argv, run as it is) or an object of either (each run, in the order
// of their names; the spec runs them at once).
func devCommand(raw json.RawMessage) ([][]string, error) {
	var s string
	var argv []string
	var named map[string]json.RawMessage
	switch {
	case string(raw) == "null":
		return nil, nil
	case json.Unmarshal(raw, &s) == nil:
		if strings.TrimSpace(s) == "" {
			return nil, nil
		}
		return [][]string{{"/bin/sh", "-c", s}}, nil
	case json.Unmarshal(raw, &argv) == nil:
		if len(argv) == 0 {
			return nil, nil
		}
		return [][]string{argv}, nil
	case raw[0] == '{' && json.Unmarshal(raw, &named) == nil:
		var out [][]string
		for _, k := range slices.Sorted(maps.Keys(named)) {
			c, err := devCommand(named[k])
			if err != nil || (len(named[k]) > 0 && named[k][0] == '{') {
				return nil, fmt.Errorf("%s: want a string or an array of strings", k)
			}
			out = append(out, c...)
		}
		return out, nil
	}
	return nil, fmt.Errorf("want a string, an array of strings or an object of them, not %s", kindOf(raw))
}

// devMount turns a mount, "type=bind,source=S,target=T[,readonly]" or
// {"type", "source", "target"}, into a shell volume SOURCE:TARGET[:ro]
// (SOURCE a volume's name for type=volume).
func devMount(raw json.RawMessage, sub func(string) string) (string, error) {
	var m struct {
		Type     string `json:"type"`
		Source   string `json:"source"`
		Target   string `json:"target"`
		ReadOnly bool   `json:"readonly"`
	}
	var str string
	if err := json.Unmarshal(raw, &str); err == nil {
		for _, opt := range strings.Split(sub(str), ",") {
			k, v, hasV := strings.Cut(strings.TrimSpace(opt), "=")
			switch strings.ToLower(k) {
			case "type":
				m.Type = v
			case "source", "src":
				m.Source = v
			case "target", "destination", "dst":
				m.Target = v
			case "readonly", "ro":
				m.ReadOnly = !hasV || v == "true" || v == "1"
			case "consistency", "":
			default:
				return "", fmt.Errorf("%q: box does not know the option %q", str, k)
			}
		}
	} else if err := json.Unmarshal(raw, &m); err != nil || raw[0] != '{' {
		return "", fmt.Errorf("want a string (type=bind,source=…,target=…) or an object, not %s", kindOf(raw))
	} else {
		m.Source, m.Target = sub(m.Source), sub(m.Target)
		str = m.Source + " on " + m.Target
	}
	switch {
	case m.Type != "bind" && m.Type != "volume":
		return "", fmt.Errorf("%q: type %q: box shell mounts type=bind and type=volume", str, m.Type)
	case !strings.HasPrefix(m.Target, "/"):
		return "", fmt.Errorf("%q: the target must be an absolute path", str)
	case m.Type == "bind" && !strings.HasPrefix(m.Source, "/"):
		return "", fmt.Errorf("%q: a bind's source must be an absolute path", str)
	case m.Type == "volume" && (m.Source == "" || strings.ContainsAny(m.Source, "/:")):
		return "", fmt.Errorf("%q: a volume's source must be a volume name", str)
	case strings.Contains(m.Source+m.Target, ":"):
		return "", fmt.Errorf("%q: box cannot mount a path with ':'", str)
	}
	v := m.Source + ":" + m.Target
	if m.ReadOnly {
		v += ":ro"
	}
	return v, nil
}

// substituter expands the spec's variables: ${localWorkspaceFolder},
// ${containerWorkspaceFolder} (and their …Basename), ${localEnv:NAME} and
// ${containerEnv:NAME} (of containerEnv; others are left for the image's
// environment), each with an optional :default.
// Anything else is left as it is.
type substituter struct {
	project, folder string
	getenv          func(string) string
	env             map[string]string // containerEnv, expanded so far
}

func (s substituter) do(v string) string {
	var out strings.Builder
	for {
		i := strings.Index(v, "${")
		if i < 0 {
			break
		}
		j := strings.IndexByte(v[i:], '}')
		if j < 0 {
			break
		}
		out.WriteString(v[:i])
		expr := v[i+2 : i+j]
		val, ok := s.lookup(expr)
		if !ok {
			val = v[i : i+j+1]
		}
		out.WriteString(val)
		v = v[i+j+1:]
	}
	out.WriteString(v)
	return out.String()
}

func (s substituter) lookup(expr string) (string, bool) {
	switch expr {
	case "localWorkspaceFolder":
		return s.project, true
	case "localWorkspaceFolderBasename":
		return filepath.Base(s.project), true
	case "containerWorkspaceFolder":
		return s.folder, s.folder != ""
	case "containerWorkspaceFolderBasename":
		return filepath.Base(s.folder), s.folder != ""
	}
	kind, rest, ok := strings.Cut(expr, ":")
	if !ok || (kind != "localEnv" && kind != "containerEnv" && kind != "env") {
		return "", false
	}
	name, def, _ := strings.Cut(rest, ":")
	var v string
	if kind == "containerEnv" {
		var ok bool
		if v, ok = s.env[name]; !ok {
			// Perhaps the image's (PATH, usually): box shell expands it
			// once it has the image (shell.ExpandContainerEnv).
			return "", false
		}
	} else {
		v = s.getenv(name)
	}
	if v == "" {
		v = def
	}
	return v, true
}

// devBuild reads build (and the older top-level dockerFile): a Dockerfile
// and context relative to the devcontainer.json's folder, args and target.
func devBuild(path string, keys map[string]rawValue, bad func(k, format string, args ...any) error) (*ShellBuild, error) {
	var b struct {
		Dockerfile *string            `json:"dockerfile"`
		DockerFile *string            `json:"dockerFile"`
		Context    *string            `json:"context"`
		Args       map[string]*string `json:"args"`
		Target     *string            `json:"target"`
	}
	key := ""
	for _, k := range []string{"dockerFile", "dockerfile"} {
		if v, ok := keys[k]; ok && string(v.raw) != "null" {
			if err := json.Unmarshal(v.raw, &b.Dockerfile); err != nil {
				return nil, bad(k, "want a string, not %s", kindOf(v.raw))
			}
			key = k
		}
	}
	if v, ok := keys["build"]; ok && string(v.raw) != "null" {
		if v.raw[0] != '{' || json.Unmarshal(v.raw, &b) != nil {
			return nil, bad("build", "want an object (dockerfile, context, args, target), not %s", kindOf(v.raw))
		}
		if b.DockerFile != nil && b.Dockerfile == nil {
			b.Dockerfile = b.DockerFile
		}
		key = "build"
	}
	if key == "" {
		return nil, nil
	}
	if b.Dockerfile == nil || *b.Dockerfile == "" {
		return nil, bad(key, "no dockerfile")
	}
	dir := filepath.Dir(path)
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return filepath.Clean(p)
		}
		return filepath.Join(dir, p)
	}
	sb := &ShellBuild{Dockerfile: abs(*b.Dockerfile), Context: dir, Args: map[string]string{}}
	if b.Context != nil {
		sb.Context = abs(*b.Context)
	}
	if b.Target != nil {
		sb.Target = *b.Target
	}
	for k, v := range b.Args {
		if v != nil {
			sb.Args[k] = *v
		}
	}
	return sb, nil
}

// safeName keeps what an image name may hold of a folder's name.
func safeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	if b.Len() == 0 {
		return "project"
	}
	return b.String()
}
