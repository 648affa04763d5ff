package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCDISpecDirs(t *testing.T) {
	dir := t.TempDir()
	sys := filepath.Join(dir, "sys.toml")
	usr := filepath.Join(dir, "user.toml")
	os.WriteFile(sys, []byte("[cdi]\nspec_dirs = [\"/etc/cdi\"]\n"), 0o600)
	os.WriteFile(usr, []byte("[cdi]\nspec_dirs = [\"/opt/cdi/\", \"/var/run/cdi\"]\n"), 0o600)
	c, err := LoadFiles(sys, usr)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.CDI.SpecDirs, ":"); got != "/opt/cdi:/var/run/cdi" {
		t.Errorf("spec dirs = %q", got)
	}
	if c, err := LoadFiles(sys + ".missing"); err != nil || c.CDI.SpecDirs != nil {
		t.Errorf("unset spec dirs = %q, %v; want nil (the defaults)", c.CDI.SpecDirs, err)
	}
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[cdi]\nspec_dirs = [\"cdi\"]\n"), 0o600)
	if _, err := LoadFiles(bad); err == nil || !strings.Contains(err.Error(), "bad.toml:2: cdi.spec_dirs") {
		t.Errorf("relative dir: %v", err)
	}
}
