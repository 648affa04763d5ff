package build

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseSecrets(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "tok")
	os.WriteFile(f, []byte("from a file"), 0o600)
	t.Setenv("BOX_TEST_SECRET", "from the env")
	got, err := ParseSecrets([]string{"id=a,src=" + f, "id=b,env=BOX_TEST_SECRET", "id=BOX_TEST_SECRET", "id=c,source=" + f + ",type=file", "id=d,type=env,src=BOX_TEST_SECRET", "id=" + f})
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{"a": "from a file", "b": "from the env", "BOX_TEST_SECRET": "from the env", "c": "from a file", "d": "from the env", f: "from a file"} {
		if string(got[id]) != want {
			t.Errorf("secret %s = %q, want %q", id, got[id], want)
		}
	}
	for _, bad := range []string{"src=" + f, "id=x,what=y", "id=x,src", "id=x,env=BOX_TEST_UNSET", "id=x,type=socket,src=" + f, "id=x,src=" + filepath.Join(dir, "none")} {
		if _, err := ParseSecrets([]string{bad}); err == nil {
			t.Errorf("ParseSecrets(%q) took it", bad)
		}
	}
}

// stripStubs takes out the mount targets made for a RUN and the parents
// made with them, and leaves what the base had or the RUN wrote.
func TestStripStubs(t *testing.T) {
	base, upper := t.TempDir(), t.TempDir()
	for _, d := range []string{"root", "var/cache"} {
		os.MkdirAll(filepath.Join(base, d), 0o755)
		os.MkdirAll(filepath.Join(upper, d), 0o755) // copied up
	}
	os.Chmod(filepath.Join(base, "root"), 0o700)
	os.Chmod(filepath.Join(upper, "root"), 0o700)
	for _, d := range []string{"root/.cache/go", "src", "run/secrets", "kept/dir", "var/cache/apt"} {
		os.MkdirAll(filepath.Join(upper, d), 0o755)
	}
	os.WriteFile(filepath.Join(upper, "run/secrets/tok"), nil, 0o644)
	os.WriteFile(filepath.Join(upper, "kept/written"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(upper, "var/cache/other"), []byte("x"), 0o644)
	stripStubs(upper, []string{base}, []string{"/root/.cache/go", "/src", "/run/secrets/tok", "/kept/dir", "/var/cache/apt"})
	for _, gone := range []string{"root", "src", "run", "kept/dir", "var/cache/apt"} {
		if _, err := os.Lstat(filepath.Join(upper, gone)); err == nil {
			t.Errorf("%s is still in the layer", gone)
		}
	}
	for _, kept := range []string{"kept/written", "var/cache/other"} {
		if _, err := os.Lstat(filepath.Join(upper, kept)); err != nil {
			t.Errorf("%s went: %v", kept, err)
		}
	}
}
