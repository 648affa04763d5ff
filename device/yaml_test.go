package device

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	cdispec "tags.cncf.io/container-device-interface/specs-go"
)

// specTexts are specs as nvidia-ctk, yaml/v3, sigs.k8s.io/yaml and people
// write them, in YAML and JSON.
var specTexts = map[string]string{
	"nvidia-ctk": `---
cdiVersion: 0.5.0
containerEdits:
  deviceNodes:
  - path: /dev/nvidia-modeset
  - path: /dev/nvidiactl
  env:
  - NVIDIA_VISIBLE_DEVICES=void
  hooks:
  - args:
    - nvidia-cdi-hook
    - create-symlinks
    - --link
    - libcuda.so.1::/usr/lib/x86_64-linux-gnu/libcuda.so
    hookName: createContainer
    path: /usr/bin/nvidia-cdi-hook
  mounts:
  - containerPath: /usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15
    hostPath: /usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15
    options:
    - ro
    - nosuid
    - nodev
    - bind
devices:
- containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
  name: "0"
- containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
  name: GPU-3a23c669-1f69-c64e-cf85-44e9b07e7a2a
kind: nvidia.com/gpu
`,
	"indented, flow, comments": `# a comment
cdiVersion: "0.7.0"   # quoted
kind: 'example.com/gpu'
annotations: {a.example.com/x: "1", b: 'it''s'}
devices:
    -   name: all
        containerEdits:
            env: [A=1, "B=two words", 'C=#3']
            deviceNodes:
                - {path: /dev/x, hostPath: /dev/null, permissions: rw, major: 0x1f, minor: 010, fileMode: 0o666, uid: 1000}

            hooks:
              - hookName: createContainer
                path: /bin/true
                timeout: 5
                env:
                - "ESC=\t\u00e9\\\"x"
containerEdits:
  additionalGids: [
    44,
    1_000,
  ]
...
ignored: after the end
`,
	"null and empty": `cdiVersion: 0.7.0
kind: a.com/b
containerEdits:
  env: []
  mounts: ~
devices:
- name: x
  annotations:
  containerEdits:
    env: [X=1]
    intelRdt: {closID: /, enableMonitoring: false}
`,
	"json": `{"cdiVersion":"1.1.0","kind":"vendor.com/net","devices":[{"name":"n0","containerEdits":{"netDevices":[{"hostInterfaceName":"eth1","name":"e1"}],"additionalGids":[5]}}],
	 "containerEdits": {"env": ["\u0041=\"q\""], "hooks": null}}`,
	"second document": "cdiVersion: 0.3.0\nkind: a.com/b\ndevices:\n- name: x\n  containerEdits: {env: [X=1]}\n---\nkind: ignored\n",
}

// TestParseYAMLAsLibrary compares parseYAML and decode with go.yaml.in/yaml/v3
// in strict mode, the CDI library's parser.
func TestParseYAMLAsLibrary(t *testing.T) {
	for name, text := range specTexts {
		dec := yaml.NewDecoder(bytes.NewReader([]byte(text)))
		dec.KnownFields(true)
		var want *cdispec.Spec
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("%s: yaml/v3: %v", name, err)
		}
		root, err := parseYAML(text)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		got := &cdispec.Spec{}
		if err := decode(root, reflect.ValueOf(got).Elem()); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", name, got, want)
		}
		if err := validateSpec(got); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestBrokenSpecs checks that a broken spec gets one line naming the
// problem and, for YAML, where it is.
func TestBrokenSpecs(t *testing.T) {
	head := "cdiVersion: 0.6.0\nkind: example.com/x\n"
	for text, want := range map[string]string{
		head + "devices:\n- name: a\n  containerEdits:\n    env: [A=1]\n    hostpath: /x\n":        `line 7: unknown field "hostpath" in ContainerEdits`,
		head + "devices:\n- name: a\n  containerEdits:\n\tenv: [A=1]\n":                            "line 6: a tab in the indentation",
		head + "devices:\n- name: a\n  containerEdits:\n    env: A=1\n":                            `line 6: "A=1" where a sequence was expected`,
		head + "devices:\n- name: a\n  containerEdits:\n    env: [A=1\n":                           "line 6: unclosed [",
		head + "devices:\n- name: a\n  containerEdits:\n    env: [\"A=1]\n":                        "line 6: quoted values that span lines",
		head + "devices:\n- name: a\n  containerEdits:\n    env: [A=1]\n   bad: 1\n":               "line 7: unexpected indentation",
		head + "devices:\n- name: a\n  name: b\n":                                                  `line 5: mapping key "name" already defined at line 4`,
		head + "devices:\n- name: a\n  containerEdits:\n    deviceNodes: [{path: /d, major: x}]\n": `line 6: "x" where an integer of int64 was expected`,
		head + "devices:\n- name: a\n  containerEdits: &e\n    env: [A=1]\n":                       "line 5: YAML anchors",
		head + "devices:\n- name: a\n  containerEdits:\n    env: [A]\n":                            `device "a": invalid container edits: invalid environment variable "A"`,
		head + "devices:\n- name: a\n  containerEdits: {}\n":                                       `device "a": invalid device, empty device edits`,
		head + "devices: []\n": "invalid spec, no devices",
		"cdiVersion: 0.6.0\nkind: x\ndevices:\n- name: a\n  containerEdits: {env: [A=1]}\n":       `kind "x": invalid vendor. empty name`,
		"cdiVersion: 9.9.9\nkind: a.com/x\ndevices:\n- name: a\n  containerEdits: {env: [A=1]}\n": `invalid version "9.9.9"`,
		"# nothing\n": "empty spec",
		`{"cdiVersion": "0.6.0", "kind": "a.com/x", "devices": [{"name": "a" "x": 1}]}`: `line 1: unexpected "\"x\": 1}]}" in a flow collection`,
	} {
		path := filepath.Join(t.TempDir(), "s.yaml")
		if strings.HasPrefix(text, "{") {
			path = strings.TrimSuffix(path, ".yaml") + ".json"
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := readSpec(path, 0)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("readSpec(%q) = %v; want one line with %q", text, err, want)
		}
	}
}

// TestReadSpecs checks the order of the spec directories: a later one
// replaces a device, the same name twice in one directory is a conflict.
func TestReadSpecs(t *testing.T) {
	low, high := t.TempDir(), t.TempDir()
	write := func(dir, file, devices string) {
		text := "cdiVersion: 0.6.0\nkind: example.com/x\ndevices:\n" + devices
		if strings.HasSuffix(file, ".json") {
			text = `{"cdiVersion": "0.6.0", "kind": "example.com/x", "devices": ` + devices + "}"
		}
		if err := os.WriteFile(filepath.Join(dir, file), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dev := func(name, env string) string {
		return "- name: " + name + "\n  containerEdits: {env: [" + env + "]}\n"
	}
	write(low, "a.yaml", dev("a", "FROM=low")+dev("b", "FROM=low"))
	write(low, "c.yaml", dev("c", "FROM=low"))
	write(low, "c2.json", `[{"name": "c", "containerEdits": {"env": ["FROM=low2"]}}]`)
	write(low, "skip.yml", dev("z", "FROM=low"))
	write(high, "a.yaml", dev("a", "FROM=high"))
	set := readSpecs([]string{low, filepath.Join(high, "."), filepath.Join(low, "none")})
	if got, want := strings.Join(set.names(), " "), "example.com/x=a example.com/x=b"; got != want {
		t.Errorf("names = %q; want %q", got, want)
	}
	if env := set.devices["example.com/x=a"].ContainerEdits.Env; env[0] != "FROM=high" {
		t.Errorf("example.com/x=a is from %s; want the later directory's", env)
	}
	p := set.problemLines()
	if len(p) != 2 || !strings.Contains(p[0], `c.yaml: conflicting device "example.com/x=c"`) || !strings.Contains(p[1], "c2.json: ") {
		t.Errorf("problems = %q", p)
	}
}
