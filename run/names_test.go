package run

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	for _, s := range []string{"ab", "web", "my_app.v2-1", "0x", "A9", strings.Repeat("a", 255)} {
		if err := ValidName(s); err != nil {
			t.Errorf("ValidName(%q) = %v", s, err)
		}
	}
	for _, s := range []string{"", "a", "a/b", "../x", "..", ".x", "-x", "_x", "a b", "a:b", "é1", "a\n", strings.Repeat("a", 256)} {
		err := ValidName(s)
		want := fmt.Sprintf("invalid container name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", s)
		if err == nil || err.Error() != want {
			t.Errorf("ValidName(%q) = %v, want %q", s, err, want)
		}
	}
}

func TestRandomName(t *testing.T) {
	re := regexp.MustCompile(`^[a-z]+_[a-z]+$`)
	seen := map[string]bool{}
	for range 200 {
		n := RandomName()
		if !re.MatchString(n) || ValidName(n) != nil {
			t.Fatalf("RandomName() = %q, not adjective_noun", n)
		}
		seen[n] = true
	}
	if len(seen) < 100 {
		t.Errorf("only %d distinct names in 200 draws", len(seen))
	}
}

func TestNameNewID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{64}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if !re.MatchString(id) {
			t.Fatalf("NewID() = %q, want 64 hex digits", id)
		}
		if strings.Trim(id[:12], "0123456789") == "" {
			t.Fatalf("NewID() = %q: short id is all digits", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestCheckHostname(t *testing.T) {
	for _, s := range []string{"a", "web", "web-1", "db.example.com", "1host", "A-Z.0-9", strings.Repeat("a", 63), strings.Repeat("a.", 31) + "aa"} {
		if err := CheckHostname(s); err != nil {
			t.Errorf("CheckHostname(%q) = %v", s, err)
		}
	}
	for _, s := range []string{"a b/c", "-lead", "trail-", "a..b", ".a", "a.", "under_score", "a\nb", "é", "a:b", strings.Repeat("a", 64), "a.-b"} {
		err := CheckHostname(s)
		want := fmt.Sprintf("invalid --hostname %q: want letters, digits and hyphens, in labels separated by dots (RFC 1123)", s)
		if err == nil || err.Error() != want {
			t.Errorf("CheckHostname(%q) = %v, want %q", s, err, want)
		}
	}
	long := strings.Repeat("a.", 32) + "a" // 65 characters, each label fine
	if err := CheckHostname(long); err == nil || err.Error() != fmt.Sprintf("invalid --hostname %q: longer than 64 characters", long) {
		t.Errorf("CheckHostname(65 characters) = %v", err)
	}
}

// TestGeneratedNameInUse: a generated name that is taken gives way to
// docker's next tries; a given one is an error.
func TestGeneratedNameInUse(t *testing.T) {
	cs := Containers{Root: t.TempDir()}
	first := &Container{ID: NewID(), Name: "taken_name", Status: "created"}
	if _, err := cs.Create(first); err != nil {
		t.Fatal(err)
	}
	gen := &Container{ID: NewID(), Name: "taken_name", Status: "created", generatedName: true}
	if _, err := cs.Create(gen); err != nil || gen.Name == "taken_name" || !regexp.MustCompile(`^[a-z]+_[a-z]+\d$`).MatchString(gen.Name) {
		t.Errorf("generated name in use: got %q, %v; want another, with a digit", gen.Name, err)
	}
	given := &Container{ID: NewID(), Name: "taken_name", Status: "created"}
	if _, err := cs.Create(given); err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Errorf("given name in use: %v", err)
	}
	if n := retryName(11, gen.ID); !strings.HasSuffix(n, "_"+gen.ID[:4]) {
		t.Errorf("last try %q lacks the id's start", n)
	}
}
