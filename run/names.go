package run

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"strings"
)

// ValidName checks a --name with docker's rule, ^[a-zA-Z0-9][a-zA-Z0-9_.-]+$:
// at least two characters, never a path (names are links in the store's
// names/ directory), never something that looks like a flag.
func ValidName(s string) error {
	ok := len(s) >= 2 && len(s) <= 255 && isAlnum(s[0])
	for i := 1; ok && i < len(s); i++ {
		c := s[i]
		ok = isAlnum(c) || c == '_' || c == '.' || c == '-'
	}
	if !ok {
		return fmt.Errorf("invalid container name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", s)
	}
	return nil
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// Word lists for RandomName; docker's names honour scientists, box's are
// weather and landscape.
var (
	adjectives = strings.Fields(`
		amber brave breezy bright calm clever cosmic crisp curious daring
		dusty eager early fancy fearless gentle glossy golden happy hardy
		hidden humble icy jolly keen kind lively lucky mellow misty
		nimble noble patient polished proud quick quiet rapid rosy rusty
		shiny silent silver sleepy snowy sturdy sunny swift tidy vivid
		wandering warm wild windy wise witty young zealous zen zesty`)
	nouns = strings.Fields(`
		aurora badger basin bay beacon birch boulder breeze brook canyon
		cedar cliff comet coral cove crater creek delta dune ember
		falcon fern fjord forest geyser glacier grove harbor heron island
		lagoon lantern maple meadow mesa moss nebula oasis orchard otter
		pebble pine prairie quartz rain reef ridge river sequoia spruce
		summit thunder tundra valley willow`)
)

// RandomName returns a docker-style adjective_noun name. The caller adds a
// suffix or retries when the name is taken.
func RandomName() string {
	return adjectives[mrand.IntN(len(adjectives))] + "_" + nouns[mrand.IntN(len(nouns))]
}

// retryName is a generated name's try-th replacement when the one before
// was in use: docker's (a random name and a digit), and at the 11th one
// with the start of the container's id, which no other name has.
func retryName(try int, id string) string {
	if try > 10 {
		return RandomName() + "_" + id[:4]
	}
	return RandomName() + strconv.Itoa(mrand.IntN(10))
}

// NewID returns a container id: 64 random hex digits. Like docker, it
// avoids ids whose 12-digit short form is all decimal digits, which read
// as numbers (and as pids) in scripts.
func NewID() string {
	b := make([]byte, 32)
	for {
		rand.Read(b) // never fails (crypto/rand, Go ≥ 1.24)
		id := hex.EncodeToString(b)
		if strings.Trim(id[:12], "0123456789") != "" {
			return id
		}
	}
}

// CheckHostname checks a --hostname: an RFC 1123 host name (validHostName)
// of at most 64 characters, the kernel's limit for sethostname(2).
func CheckHostname(s string) error {
	if len(s) > 64 {
		return fmt.Errorf("invalid --hostname %q: longer than 64 characters", s)
	}
	if !validHostName(s, false) {
		return fmt.Errorf("invalid --hostname %q: want letters, digits and hyphens, in labels separated by dots (RFC 1123)", s)
	}
	return nil
}

// validHostName reports whether s is an RFC 1123 host name: labels of 1-63
// letters, digits and hyphens, not starting or ending with a hyphen,
// separated by dots, at most 253 characters. With underscore, labels may
// also hold underscores, which /etc/hosts lookups accept and service names
// (compose's among them) use.
func validHostName(s string, underscore bool) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !isAlnum(c) && c != '-' && (c != '_' || !underscore) {
				return false
			}
		}
	}
	return true
}
