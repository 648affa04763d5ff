package run

import (
	"os"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/box-run/box/run/proto"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestMPISpec(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"PMIX_SERVER_TMPDIR": dir, "PMIX_SYSTEM_TMPDIR": dir + "/missing"}
	h := Host{
		Environ: func() []string {
			return []string{"SLURM_PROCID=3", "PMI_RANK=3", "OMPI_X=1", "UCX_TLS=sm", "FI_PROVIDER=tcp", "PMIX_RANK=3", "HOME=/home/u", "SLURMX=no", "PATH=/bin"}
		},
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	}
	spec, _, _, err := New(Flags{MPI: true, Env: []string{"PMI_RANK=9"}}, Image{Ref: "x", Config: v1.Config{Cmd: []string{"sh"}}, Layers: []string{"/l"}}, h)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Network != "host" || !spec.IPCHost {
		t.Errorf("network %q, ipc host %v: want host, true", spec.Network, spec.IPCHost)
	}
	for _, want := range []string{"SLURM_PROCID=3", "PMI_RANK=9", "OMPI_X=1", "UCX_TLS=sm", "FI_PROVIDER=tcp", "PMIX_RANK=3"} {
		if !slices.Contains(spec.Env, want) {
			t.Errorf("env lacks %s: %q", want, spec.Env)
		}
	}
	for _, kv := range spec.Env {
		if kv == "SLURMX=no" || kv == "HOME=/home/u" || kv == "PMI_RANK=3" {
			t.Errorf("env has %s", kv)
		}
	}
	if want := []proto.Mount{{Type: "bind", Source: dir, Target: dir}}; !reflect.DeepEqual(spec.Mounts, want) {
		t.Errorf("mounts %+v, want %+v", spec.Mounts, want)
	}

	for _, f := range []Flags{{MPI: true, Network: "none"}, {MPI: true, Network: "slirp"}, {MPI: true, Network: "slirp:allow_host_loopback=true"}, {MPI: true, IPC: "private"}, {IPC: "none"}} {
		if _, _, _, err := New(f, Image{Ref: "x", Config: v1.Config{Cmd: []string{"sh"}}, Layers: []string{"/l"}}, h); err == nil {
			t.Errorf("%+v: no error", f)
		}
	}
	spec, _, _, err = New(Flags{IPC: "host"}, Image{Ref: "x", Config: v1.Config{Cmd: []string{"sh"}}, Layers: []string{"/l"}}, h)
	if err != nil || !spec.IPCHost || spec.Network != "slirp" {
		t.Errorf("--ipc host: %v, %+v", err, spec)
	}
}

func TestMPIFDs(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for v, ok := range map[string]bool{"": true, "1": false, "x": false, "99999": false, strconv.Itoa(int(r.Fd())): true} {
		fds, err := MPIFDs(func(string) (string, bool) { return v, v != "" })
		if (err == nil) != ok {
			t.Errorf("PMI_FD=%q: %v, %v", v, fds, err)
		}
	}
}
