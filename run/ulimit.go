package run

import (
	"fmt"

	"github.com/docker/go-units"
	"golang.org/x/sys/unix"

	"github.com/box-run/box/run/proto"
)

// ParseUlimits reads --ulimit values as docker does (go-units: a name such
// as nofile or nproc, SOFT[:HARD], -1 for unlimited) and checks each
// against what this host lets box set: without privilege a hard limit can
// be lowered, never raised, and the container's user namespace does not
// change that (the capability it would take counts only in the host's).
func ParseUlimits(vals []string) ([]proto.Rlimit, error) {
	var out []proto.Rlimit
	for _, v := range vals {
		u, err := units.ParseUlimit(v)
		if err != nil {
			return nil, fmt.Errorf("invalid --ulimit %q: %w", v, err)
		}
		rl, err := u.GetRlimit()
		if err != nil {
			return nil, fmt.Errorf("invalid --ulimit %q: %w", v, err)
		}
		var cur unix.Rlimit
		if err := unix.Getrlimit(rl.Type, &cur); err != nil {
			return nil, fmt.Errorf("--ulimit %q: reading the current limit: %w", v, err)
		}
		// -1 (unlimited) is RLIM_INFINITY, the largest value.
		if rl.Hard > cur.Max {
			return nil, fmt.Errorf("--ulimit %q: the hard limit here is %s and box cannot raise it (root can, e.g. in /etc/security/limits.conf)", v, limitString(cur.Max))
		}
		out = append(out, proto.Rlimit{Type: rl.Type, Soft: rl.Soft, Hard: rl.Hard})
	}
	return out, nil
}

func limitString(v uint64) string {
	if v == unix.RLIM_INFINITY {
		return "unlimited"
	}
	return fmt.Sprint(v)
}
