// Package userns puts box's re-executed stages into a user namespace whose
// id maps make the invoking (unprivileged) user root inside it.
//
// It owns three things and nothing else:
//
//   - Detect / DetectFrom: choosing the id mapping for the calling user.
//     With a range in /etc/subuid and /etc/subgid and the setuid helpers
//     newuidmap(1)/newgidmap(1) on PATH, container id 0 maps to the user's
//     own id and container ids 1.. map to the subordinate ranges (a
//     "helper" mapping). Without them it falls back to a single mapping of
//     0 to the user's own uid and gid, which any user may write
//     (user_namespaces(7)); files owned by other ids then become the
//     user's, and the reason string returned by Detect says so and how to
//     fix it.
//   - Start: starting a child (normally /proc/self/exe) with
//     CLONE_NEWUSER|CLONE_NEWNS plus caller-chosen namespace flags, and
//     getting its maps written before it does anything else.
//   - ChildInit: the child half of the start-up handshake, which main calls
//     before anything else when a box stage environment variable is set.
//
// It does not mount anything, pivot_root, set hostnames or drop privileges:
// the stage that runs in the namespace does that. It never prints or logs.
//
// # Handshake for helper mappings
//
// Go cannot run code between clone and exec, and only a privileged writer
// (newuidmap/newgidmap) may write a map with more than the caller's own id,
// so for a helper mapping the child cannot wait in the runtime the way Go's
// own UidMappings support does. Instead:
//
//  1. Start creates a socketpair, hands one end to the child through
//     cmd.ExtraFiles (after any files the caller already set) and names its
//     descriptor in the environment variable _BOX_USERNS_SYNC_FD.
//  2. The child, started with the new namespaces, calls ChildInit first
//     thing; ChildInit blocks reading one byte from that descriptor.
//  3. The parent runs "newuidmap PID 0 UID 1 1 START COUNT ..." and the
//     same with newgidmap, then writes the go-ahead byte. If a helper fails
//     it kills and reaps the child and returns the helper's stderr with a
//     hint.
//  4. The child was cloned with every capability raised as ambient
//     (SysProcAttr.AmbientCaps), so they survived its execve even though
//     its uid was unmapped then (capabilities(7)); with the maps written it
//     is uid 0 with the namespace's full set, and no second exec is needed
//     (an earlier design re-executed here, one Go start-up more).
//  5. A credential change that grows the permitted set clears the
//     parent-death signal (prctl(2) PR_SET_PDEATHSIG), so ChildInit sets
//     SIGKILL again — on its caller's thread, which it locked before
//     waiting and keeps locked, since the signal is a thread's, not the
//     process's — and only then writes an acknowledgement byte, removes
//     _BOX_USERNS_SYNC_FD from its environment, closes the socket and
//     returns nil. If the parent died before the prctl, the write fails
//     with EPIPE and ChildInit returns an error instead of running on as an
//     orphan.
//  6. Start returns when the acknowledgement arrives (or fails after
//     StartTimeout, killing the child, if it never does — typically because
//     main did not call ChildInit).
//
// For a single mapping Go writes the maps itself (SysProcAttr.UidMappings,
// with setgroups denied as user_namespaces(7) requires of unprivileged
// writers) before the child execs, so the child starts with full
// capabilities and ChildInit returns nil at once.
package userns

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/box-run/box/userns/child"
)

// EnvSyncFD names the descriptor a helper-mapped child waits on for its
// maps. It is removed from the environment before ChildInit returns.
const EnvSyncFD = child.EnvSyncFD

// StartTimeout bounds how long Start waits for a helper-mapped child to
// acknowledge. It only trips when the child never calls
// ChildInit or hangs before it; the maps themselves are written before the
// clock starts.
var StartTimeout = 30 * time.Second

// IDMap maps Size consecutive ids starting at ContainerID inside the
// namespace to ids starting at HostID outside it, as one line of
// /proc/PID/uid_map (user_namespaces(7)).
type IDMap struct{ ContainerID, HostID, Size int }

// Mapping is the set of uid and gid maps for a user namespace.
type Mapping struct {
	UIDs, GIDs []IDMap
	// Helper reports that the maps must be written by the setuid helpers
	// newuidmap/newgidmap rather than by the calling process.
	Helper bool
}

// Single reports whether exactly one uid and one gid are mapped, so that
// every file owned by some other id shows up as owned by that one id (or as
// the overflow id).
func (m Mapping) Single() bool {
	return total(m.UIDs) == 1 && total(m.GIDs) == 1
}

func total(maps []IDMap) int {
	n := 0
	for _, e := range maps {
		n += e.Size
	}
	return n
}

// String returns a stable compact form, e.g.
// "uid=0:1000:1,1:100000:65536 gid=0:1000:1,1:100000:65536"; each entry is
// container:host:size in map order. Whether helpers write the maps is not
// part of it: it does not change which host id owns a file.
func (m Mapping) String() string {
	var b strings.Builder
	b.WriteString("uid=")
	writeMaps(&b, m.UIDs)
	b.WriteString(" gid=")
	writeMaps(&b, m.GIDs)
	return b.String()
}

func writeMaps(b *strings.Builder, maps []IDMap) {
	for i, e := range maps {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(e.ContainerID))
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.HostID))
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Size))
	}
}

// HostUID translates a uid inside the namespace to the host uid; false if
// it is not mapped (the kernel then shows it as the overflow uid).
func (m Mapping) HostUID(containerUID int) (int, bool) {
	return translate(m.UIDs, containerUID)
}

// HostGID is HostUID for gids.
func (m Mapping) HostGID(containerGID int) (int, bool) {
	return translate(m.GIDs, containerGID)
}

func translate(maps []IDMap, id int) (int, bool) {
	for _, e := range maps {
		if id >= e.ContainerID && id-e.ContainerID < e.Size {
			return e.HostID + (id - e.ContainerID), true
		}
	}
	return 0, false
}

// validate checks what the kernel would reject anyway, to fail with a
// clearer message before starting anything.
func (m Mapping) validate() error {
	if err := validateMaps("uid", m.UIDs); err != nil {
		return err
	}
	return validateMaps("gid", m.GIDs)
}

func validateMaps(kind string, maps []IDMap) error {
	if len(maps) == 0 {
		return fmt.Errorf("validating %s map: no entries", kind)
	}
	if len(maps) > maxExtents {
		return fmt.Errorf("validating %s map: %d entries, the kernel allows %d", kind, len(maps), maxExtents)
	}
	for i, e := range maps {
		if e.ContainerID < 0 || e.HostID < 0 || e.Size <= 0 ||
			int64(e.ContainerID)+int64(e.Size) > maxID || int64(e.HostID)+int64(e.Size) > maxID {
			return fmt.Errorf("validating %s map: entry %d:%d:%d out of range", kind, e.ContainerID, e.HostID, e.Size)
		}
		// user_namespaces(7): neither the container nor the host ranges
		// of two lines may overlap.
		for _, o := range maps[:i] {
			if overlaps(e.ContainerID, e.Size, o.ContainerID, o.Size) || overlaps(e.HostID, e.Size, o.HostID, o.Size) {
				return fmt.Errorf("validating %s map: entries %d:%d:%d and %d:%d:%d overlap",
					kind, o.ContainerID, o.HostID, o.Size, e.ContainerID, e.HostID, e.Size)
			}
		}
	}
	return nil
}

func overlaps(a, an, b, bn int) bool { return a < b+bn && b < a+an }
