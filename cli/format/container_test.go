package format

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/box-run/box/run"
	"github.com/box-run/box/run/proto"
)

var (
	created  = time.Date(2024, 5, 1, 12, 0, 0, 123, time.UTC)
	started  = created.Add(time.Second)
	finished = created.Add(time.Minute)
)

func record(status string) *run.Container {
	return &run.Container{
		ID: strings.Repeat("ab", 32), Name: "web", Image: "nginx", ImageID: "sha256:" + strings.Repeat("cd", 32),
		Command:    []string{"/docker-entrypoint.sh", "nginx", "-g", "daemon off;"},
		Entrypoint: []string{"/docker-entrypoint.sh"}, Cmd: []string{"nginx", "-g", "daemon off;"},
		Created: created, Started: started, Status: status, Pid: 4242, ExitCode: 3, Finished: finished,
		Ports: []proto.Port{{HostPort: 8080, ContainerPort: 80, Proto: "tcp"}},
		Mounts: []proto.Mount{
			{Type: "bind", Source: "/home/u/site", Target: "/usr/share/nginx/html", ReadOnly: true},
			{Type: "tmpfs", Target: "/tmp", Options: []string{"size=64m"}},
			{Type: "volume", Name: "cache", Source: "/store/volumes/cache/_data", Target: "/var/cache", ReadOnly: true},
		},
		Network: &run.Network{Mode: "slirp", IPAddress: "10.88.0.2", Gateway: "10.88.0.1", HostAlias: "10.88.0.254", ExtraHosts: []string{"db:10.1.2.3"}},
	}
}

var (
	spec = &proto.Spec{
		Hostname: "abababababab", User: "nginx", Env: []string{"PATH=/bin", "A=1"}, Cwd: "/srv", TTY: true,
		Mounts: record("").Mounts, Ports: []proto.Port{{HostPort: 0, ContainerPort: 80, Proto: "tcp"}},
	}
	nginxConfig = &v1.Config{
		Labels:       map[string]string{"maintainer": "NGINX"},
		ExposedPorts: map[string]struct{}{"80/tcp": {}, "443": {}},
	}
)

func TestInspectContainer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		src   ContainerSource
		check func(t *testing.T, c *ContainerJSON)
	}{
		{"running", ContainerSource{Record: record("running"), Spec: spec, Image: nginxConfig, Restart: RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}},
			func(t *testing.T, c *ContainerJSON) {
				want := ContainerState{Status: "running", Running: true, Pid: 4242, StartedAt: "2024-05-01T12:00:01.000000123Z", FinishedAt: "2024-05-01T12:01:00.000000123Z"}
				if c.State != want {
					t.Errorf("state %+v, want %+v", c.State, want)
				}
				if c.ID != record("").ID || c.Name != "/web" || c.Image != record("").ImageID || c.Created != "2024-05-01T12:00:00.000000123Z" {
					t.Errorf("id %q name %q image %q created %q", c.ID, c.Name, c.Image, c.Created)
				}
				if c.Path != "/docker-entrypoint.sh" || !slices.Equal(c.Args, []string{"nginx", "-g", "daemon off;"}) {
					t.Errorf("path %q args %q", c.Path, c.Args)
				}
				cfg := c.Config
				if cfg.Hostname != "abababababab" || cfg.User != "nginx" || cfg.WorkingDir != "/srv" || !cfg.Tty || cfg.Image != "nginx" ||
					!slices.Equal(cfg.Env, spec.Env) || !slices.Equal(cfg.Entrypoint, []string{"/docker-entrypoint.sh"}) || cfg.Labels["maintainer"] != "NGINX" {
					t.Errorf("config %+v", cfg)
				}
				if !reflect.DeepEqual(cfg.ExposedPorts, map[string]struct{}{"80/tcp": {}, "443/tcp": {}}) {
					t.Errorf("exposed %v", cfg.ExposedPorts)
				}
				hc := c.HostConfig
				if !slices.Equal(hc.Binds, []string{"/home/u/site:/usr/share/nginx/html:ro"}) || hc.Tmpfs["/tmp"] != "size=64m" ||
					hc.NetworkMode != "slirp" || hc.RestartPolicy != (RestartPolicy{"on-failure", 3}) || hc.AutoRemove ||
					!slices.Equal(hc.ExtraHosts, []string{"host.box.internal:10.88.0.254", "db:10.1.2.3"}) {
					t.Errorf("host config %+v", hc)
				}
				// A port never bound is "".
				if !reflect.DeepEqual(hc.PortBindings, map[string][]PortBinding{"80/tcp": {{HostIP: "", HostPort: ""}}}) {
					t.Errorf("port bindings %v", hc.PortBindings)
				}
				wantMounts := []MountPoint{
					{Type: "bind", Source: "/home/u/site", Destination: "/usr/share/nginx/html", Mode: "ro", RW: false, Propagation: "rprivate"},
					{Type: "tmpfs", Destination: "/tmp", RW: true},
					{Type: "volume", Name: "cache", Source: "/store/volumes/cache/_data", Destination: "/var/cache", Driver: "local", Mode: "ro"},
				}
				if !slices.Equal(c.Mounts, wantMounts) {
					t.Errorf("mounts %+v", c.Mounts)
				}
				ns := c.NetworkSettings
				wantPorts := map[string][]PortBinding{"80/tcp": {{HostIP: "0.0.0.0", HostPort: "8080"}}, "443/tcp": nil}
				if ns.IPAddress != "10.88.0.2" || ns.Gateway != "10.88.0.1" || !reflect.DeepEqual(ns.Ports, wantPorts) ||
					!reflect.DeepEqual(ns.Networks["slirp"], EndpointSettings{IPAddress: "10.88.0.2", Gateway: "10.88.0.1"}) {
					t.Errorf("network settings %+v", ns)
				}
			}},
		{"exited, no start config, image gone", ContainerSource{Record: record("exited")}, func(t *testing.T, c *ContainerJSON) {
			if c.State.Running || c.State.Pid != 0 || c.State.ExitCode != 3 || c.State.Status != "exited" {
				t.Errorf("state %+v", c.State)
			}
			if c.NetworkSettings.IPAddress != "" || len(c.NetworkSettings.Ports) != 0 || !reflect.DeepEqual(c.NetworkSettings.Networks["slirp"], EndpointSettings{}) {
				t.Errorf("network settings of a stopped container %+v", c.NetworkSettings)
			}
			if c.Config.Hostname != "" || c.Config.Env != nil || len(c.Config.Labels) != 0 || c.HostConfig.RestartPolicy.Name != "no" {
				t.Errorf("config %+v host config %+v", c.Config, c.HostConfig)
			}
			// The record's bound port stands in for what was asked.
			if !reflect.DeepEqual(c.HostConfig.PortBindings, map[string][]PortBinding{"80/tcp": {{HostPort: "8080"}}}) {
				t.Errorf("port bindings %v", c.HostConfig.PortBindings)
			}
		}},
		{"never started, record from before box kept Cmd", ContainerSource{Record: &run.Container{ID: "x", Name: "n", Command: []string{"true"}, Status: "created"}},
			func(t *testing.T, c *ContainerJSON) {
				if c.State.StartedAt != "0001-01-01T00:00:00Z" || c.State.FinishedAt != "0001-01-01T00:00:00Z" {
					t.Errorf("times %q %q", c.State.StartedAt, c.State.FinishedAt)
				}
				if !slices.Equal(c.Config.Cmd, []string{"true"}) || c.Config.Entrypoint != nil || c.Path != "true" || c.Args == nil {
					t.Errorf("cmd %q entrypoint %q path %q args %q", c.Config.Cmd, c.Config.Entrypoint, c.Path, c.Args)
				}
				if c.Mounts == nil || c.HostConfig.PortBindings == nil || c.NetworkSettings.Ports == nil {
					t.Errorf("nil where docker has [] or {}: %+v", c)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, InspectContainer(tc.src)) })
	}
}

// The JSON has docker's names, so scripts reading it keep working.
func TestContainerJSONNames(t *testing.T) {
	b, err := json.Marshal(InspectContainer(ContainerSource{Record: record("running"), Spec: spec, Image: nginxConfig}))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	keys := slices.Sorted(maps.Keys(m))
	want := []string{"AppArmorProfile", "Args", "Config", "Created", "Driver", "ExecIDs", "GraphDriver", "HostConfig", "HostnamePath", "HostsPath",
		"Id", "Image", "LogPath", "MountLabel", "Mounts", "Name", "NetworkSettings", "Path", "Platform", "ProcessLabel", "ResolvConfPath", "RestartCount", "State"}
	if !slices.Equal(keys, want) {
		t.Errorf("keys %q, want %q", keys, want)
	}
	for _, sub := range []string{`"HostIp":"0.0.0.0"`, `"ExitCode":0`, `"OpenStdin":false`, `"RestartPolicy":{"Name":"no","MaximumRetryCount":0}`} {
		if !strings.Contains(string(b), sub) {
			t.Errorf("no %s in %s", sub, b)
		}
	}
}

func TestContainerRow(t *testing.T) {
	now := time.Now()
	ct := record("running")
	ct.Started = now.Add(-5 * time.Minute)
	ct.Created = now.Add(-2 * time.Hour)
	loads := 0
	r := NewContainerRow(ct, func() *v1.Config { loads++; return nginxConfig }, true)
	r.Names()
	r.Status()
	if loads != 0 {
		t.Errorf("the image's config was loaded for fields that do not need it")
	}
	for field, want := range map[string]string{
		"ID": strings.Repeat("ab", 6), "Names": "web", "Image": "nginx", "Command": `"/docker-entrypoint.…"`,
		"RunningFor": "2 hours ago", "Status": "Up 5 minutes", "State": "running",
		"Ports": "443/tcp, 0.0.0.0:8080->80/tcp", "Labels": "maintainer=NGINX", "Mounts": "/home/u/site,cache", "LocalVolumes": "1", "Networks": "slirp",
	} {
		got := reflect.ValueOf(r).MethodByName(field).Call(nil)[0].String()
		if got != want {
			t.Errorf("%s = %q, want %q", field, got, want)
		}
	}
	if r.Label("maintainer") != "NGINX" || r.Label("nope") != "" {
		t.Errorf("Label: %q %q", r.Label("maintainer"), r.Label("nope"))
	}
	full := NewContainerRow(ct, nil, false)
	if full.ID() != ct.ID || full.Command() != `"/docker-entrypoint.sh nginx -g daemon off;"` || full.Labels() != "" {
		t.Errorf("--no-trunc: %q %q %q", full.ID(), full.Command(), full.Labels())
	}
	ct.Status, ct.Finished = "exited", now.Add(-3*time.Minute)
	exited := NewContainerRow(ct, func() *v1.Config { return nginxConfig }, true)
	if got := exited.Status(); got != "Exited (3) 3 minutes ago" {
		t.Errorf("Status = %q", got)
	}
	if got := exited.Ports(); got != "" {
		t.Errorf("Ports of an exited container = %q", got)
	}
	ct.Status = "created"
	if got := NewContainerRow(ct, nil, true).Status(); got != "Created" {
		t.Errorf("Status = %q", got)
	}
	tmpl, err := Parse("{{json .}}")
	if err != nil {
		t.Fatal(err)
	}
	b, err := tmpl.Render(PsColumns, []any{r})
	if err != nil || !strings.Contains(string(b), `"Names":"web"`) || !strings.Contains(string(b), `"Ports":"443/tcp, 0.0.0.0:8080->80/tcp"`) {
		t.Errorf("{{json .}}: %s, %v", b, err)
	}
}

// A row without StartedAt in its record (one from before box kept it)
// counts Up from its init's start.
func TestContainerRowUpFromInit(t *testing.T) {
	ct := &run.Container{Status: "running", Created: time.Now().Add(-time.Hour), Pid: os.Getpid(), PidStart: run.StartTime(os.Getpid()), BootID: run.BootID()}
	if got := NewContainerRow(ct, nil, true).Status(); got == "Up About an hour" || !strings.HasPrefix(got, "Up ") {
		t.Errorf("Status = %q, want Up since this process started", got)
	}
}

func TestDisplayPorts(t *testing.T) {
	tcp := func(ip string, host, ctr int) proto.Port {
		return proto.Port{HostIP: ip, HostPort: host, ContainerPort: ctr, Proto: "tcp"}
	}
	for _, tc := range []struct {
		published []proto.Port
		exposed   []string
		want      string
	}{
		{nil, nil, ""},
		{nil, []string{"80/tcp", "443/tcp", "53/udp"}, "53/udp, 80/tcp, 443/tcp"},
		{nil, []string{"8000/tcp", "8001/tcp", "8002/tcp"}, "8000-8002/tcp"},
		{[]proto.Port{tcp("", 8080, 80)}, []string{"80/tcp"}, "0.0.0.0:8080->80/tcp"},
		{[]proto.Port{tcp("127.0.0.1", 80, 80), tcp("127.0.0.1", 81, 81)}, nil, "127.0.0.1:80-81->80-81/tcp"},
		{[]proto.Port{tcp("::1", 9000, 90)}, nil, "[::1]:9000->90/tcp"},
	} {
		exp := map[string]struct{}{}
		for _, e := range tc.exposed {
			exp[e] = struct{}{}
		}
		if got := displayPorts(tc.published, exp); got != tc.want {
			t.Errorf("displayPorts(%v, %v) = %q, want %q", tc.published, tc.exposed, got, tc.want)
		}
	}
}

// TestInspectGiven: docker's HostConfig and Config fields for the flags
// box run was given, the log and the layers' driver.
func TestInspectGiven(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "work"), 0o755)
	os.WriteFile(filepath.Join(dir, "work", "box-mode"), []byte("kernel\n"), 0o644)
	os.WriteFile(filepath.Join(dir, run.LogName), nil, 0o600)
	ct := record("running")
	ct.Given = &run.GivenFlags{DNS: []string{"9.9.9.9"}, CapAdd: []string{"NET_ADMIN"}, Init: true, IPC: "host", Userns: "keep-id",
		Devices: []string{"/dev/fuse", "/dev/a:/dev/b:r"}, Interactive: true}
	c := InspectContainer(ContainerSource{Record: ct, Spec: spec, Image: &v1.Config{Volumes: map[string]struct{}{"/data": {}}}, Dir: dir})
	hc := c.HostConfig
	if !slices.Equal(hc.Dns, []string{"9.9.9.9"}) || hc.DnsSearch == nil || !slices.Equal(hc.CapAdd, []string{"NET_ADMIN"}) ||
		hc.Init == nil || !*hc.Init || hc.IpcMode != "host" || hc.UsernsMode != "keep-id" || hc.LogConfig.Type != "k8s-file" {
		t.Errorf("host config %+v", hc)
	}
	wantDev := []DeviceMapping{{"/dev/fuse", "/dev/fuse", "rwm"}, {"/dev/a", "/dev/b", "r"}}
	if !slices.Equal(hc.Devices, wantDev) {
		t.Errorf("devices %+v", hc.Devices)
	}
	if !c.Config.AttachStdin || !c.Config.AttachStdout || !c.Config.AttachStderr || !reflect.DeepEqual(c.Config.Volumes, map[string]struct{}{"/data": {}}) {
		t.Errorf("config %+v", c.Config)
	}
	if c.Driver != "overlay" || c.GraphDriver.Name != "overlay" || c.GraphDriver.Data["UpperDir"] != filepath.Join(dir, "upper") || c.LogPath != filepath.Join(dir, run.LogName) {
		t.Errorf("driver %q graph driver %+v log %q", c.Driver, c.GraphDriver, c.LogPath)
	}
	ct.Given.Detached = true
	c = InspectContainer(ContainerSource{Record: ct, Spec: spec})
	if c.Config.AttachStdin || c.Config.AttachStdout || c.HostConfig.Init == nil {
		t.Errorf("detached: config %+v", c.Config)
	}
}
