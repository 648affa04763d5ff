package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNetwork(t *testing.T) {
	dir := t.TempDir()
	sys := filepath.Join(dir, "sys.toml")
	usr := filepath.Join(dir, "user.toml")
	os.WriteFile(sys, []byte("[network]\ndns = [\"10.0.0.1\"]\nallow_host_loopback = true\n"), 0o600)
	os.WriteFile(usr, []byte("[network]\ndns = [\"127.0.0.1:5353\", \"::1\"]\n"), 0o600)
	c, err := LoadFiles(sys, usr)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Network.DNS, ",") != "127.0.0.1:5353,::1" || !c.Network.AllowHostLoopback {
		t.Errorf("network = %+v", c.Network)
	}
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[network]\n\ndns = [\"dns.example\"]\n"), 0o600)
	if _, err := LoadFiles(bad); err == nil || !strings.Contains(err.Error(), "bad.toml:3: network.dns") {
		t.Errorf("bad dns: %v", err)
	}
	os.WriteFile(bad, []byte("[network]\nmtu = 1\n"), 0o600)
	if _, err := LoadFiles(bad); err == nil || !strings.Contains(err.Error(), "bad.toml:2: unknown key network.mtu") {
		t.Errorf("unknown key: %v", err)
	}
}
