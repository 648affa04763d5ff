package volume

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestValidName(t *testing.T) {
	for name, ok := range map[string]bool{
		"data": true, "a": true, "0": true, "my_vol.v1-2": true, NewName(): true,
		"": false, "a b": false, "a/b": false, ".hidden": false, "-x": false, "_x": false,
		"..": false, "ü": false, "a:b": false,
	} {
		if err := ValidName(name); (err == nil) != ok {
			t.Errorf("ValidName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

func TestCreateGetListRemove(t *testing.T) {
	s := Store{Dir: filepath.Join(t.TempDir(), "volumes")}
	v, created, err := s.Create("data", nil)
	if err != nil || !created {
		t.Fatalf("Create: %v, created %v", err, created)
	}
	if fi, err := os.Stat(v.Mountpoint()); err != nil || !fi.IsDir() {
		t.Fatalf("no data directory: %v", err)
	}
	os.WriteFile(filepath.Join(v.Mountpoint(), "f"), []byte("x"), 0o644)
	again, created, err := s.Create("data", map[string]string{"ignored": ""})
	if err != nil || created || !again.CreatedAt.Equal(v.CreatedAt) || again.Labels != nil {
		t.Fatalf("Create of an existing volume: %+v, created %v, %v", again, created, err)
	}
	anon, _, err := s.Create(NewName(), map[string]string{AnonymousLabel: ""})
	if err != nil || !anon.Anonymous() || v.Anonymous() {
		t.Fatalf("anonymous volume: %+v, %v", anon, err)
	}
	if _, _, err := s.Create("a/b", nil); err == nil {
		t.Fatal("Create took a name with a slash")
	}
	all, err := s.List()
	if err != nil || len(all) != 2 {
		t.Fatalf("List: %v, %v", all, err)
	}
	rm := func(p ...string) error { return os.RemoveAll(p[0]) }
	if err := s.Remove("data", rm); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("data"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Remove: %v", err)
	}
	if err := s.Remove("data", rm); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Remove of a missing volume: %v", err)
	}
	ents, _ := os.ReadDir(s.Dir)
	if len(ents) != 1 {
		t.Fatalf("left in the volumes directory: %v", ents)
	}
}
