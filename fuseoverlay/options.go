package fuseoverlay

// The pure parts: option strings, the cache file format, kernel releases.

import (
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
)

// maxFsconfigValue is the longest string fsconfig(2) accepts as a value: it
// copies values with strndup_user(value, 256) and fails with EINVAL past
// that (fs/fsopen.c). Longer layer paths go through a short symlink.
const maxFsconfigValue = 255

// topFirst returns the layers in overlayfs order: the top layer first.
func topFirst(bottomFirst []string) []string {
	l := slices.Clone(bottomFirst)
	slices.Reverse(l)
	return l
}

// escapeOpt escapes a path for an overlayfs option string: the kernel
// splits options at ',' and lowerdir at ':' unless preceded by '\', and
// drops the '\' (Documentation/filesystems/overlayfs.rst, "Multiple lower
// layers"). An unescaped "::" would even make the rest data-only layers.
func escapeOpt(p string) string {
	if !strings.ContainsAny(p, `\:,`) {
		return p
	}
	var b strings.Builder
	for _, r := range p {
		if r == '\\' || r == ':' || r == ',' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// overlayData builds the mount(2) data for an overlay of lowers (top
// first) with optional upper and work dirs.
func overlayData(lowers []string, upper, work string, volatile bool) string {
	esc := make([]string, len(lowers))
	for i, l := range lowers {
		esc[i] = escapeOpt(l)
	}
	s := "userxattr,lowerdir=" + strings.Join(esc, ":")
	if upper != "" {
		s += ",upperdir=" + escapeOpt(upper) + ",workdir=" + escapeOpt(work)
		if volatile {
			s += ",volatile"
		}
	}
	return s
}

// legacyData is overlayData limited to max bytes, the size of the page
// mount(2) copies its data from (copy_mount_options, fs/namespace.c). When
// the full paths do not fit, the lowers are replaced by the relative names
// "0", "1", ... and links[i] is the layer the name i must point to; the
// caller makes those symlinks in a scratch directory and mounts from
// inside it. The kernel resolves them at mount time, so they may be
// removed right after.
func legacyData(lowers []string, upper, work string, volatile bool, max int) (data string, links []string, err error) {
	data = overlayData(lowers, upper, work, volatile)
	if len(data) <= max {
		return data, nil, nil
	}
	names := make([]string, len(lowers))
	for i := range lowers {
		names[i] = strconv.Itoa(i)
	}
	data = overlayData(names, upper, work, volatile)
	if len(data) > max {
		return "", nil, fmt.Errorf("overlay options for %d layers take %d bytes even with short names, mount(2) takes %d", len(lowers), len(data), max)
	}
	return data, slices.Clone(lowers), nil
}

// fuseData builds the -o argument of fuse-overlayfs. Unlike the kernel it
// has no escapes for ':' in lowerdir, so such paths are refused.
func fuseData(lowers []string, upper, work string, volatile bool) (string, error) {
	for _, p := range append(slices.Clone(lowers), upper, work) {
		if strings.ContainsAny(p, ":,") {
			return "", fmt.Errorf("fuse-overlayfs cannot take the path %q: it contains ':' or ','", p)
		}
	}
	s := "lowerdir=" + strings.Join(lowers, ":")
	if upper != "" {
		s += ",upperdir=" + upper + ",workdir=" + work
		if volatile {
			s += ",fsync=0"
		}
	}
	return s, nil
}

// formatCache is the content of Options.CacheFile.
func formatCache(mode, release string) string {
	return mode + " " + release + "\n"
}

// parseCache returns the mode recorded in a cache file if it was decided
// on this kernel release.
func parseCache(b []byte, release string) (string, bool) {
	f := strings.Fields(string(b))
	if len(f) != 2 || f[1] != release {
		return "", false
	}
	switch f[0] {
	case Kernel, Fuse, Copy:
		return f[0], true
	}
	return "", false
}

// parseModeRecord reads the mode Mount records in the work dir.
func parseModeRecord(b []byte) (string, bool) {
	switch m := strings.TrimSpace(string(b)); m {
	case Kernel, Fuse:
		return m, true
	}
	return "", false
}

// kernelAtLeast reports whether a uname release such as "6.8.0-45-generic"
// is at least major.minor. Unparseable releases count as old.
func kernelAtLeast(release string, major, minor int) bool {
	f := strings.FieldsFunc(release, func(r rune) bool { return r < '0' || r > '9' })
	if len(f) < 2 || !strings.HasPrefix(release, f[0]) {
		return false
	}
	ma, err1 := strconv.Atoi(f[0])
	mi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// FlatCopy reports whether target holds a complete flat copy of its layers
// (copy mode), which keeps no record of the container's changes.
func FlatCopy(target string) bool {
	_, err := os.Lstat(copyMarker(target))
	return err == nil
}

// UsedMode is the mode a container's layers were last stacked with:
// Copy for a flat copy at target, else what work records (Kernel or
// Fuse), "" when nothing was stacked yet.
func UsedMode(work, target string) string {
	if FlatCopy(target) {
		return Copy
	}
	b, err := os.ReadFile(path.Join(work, modeRecord))
	if err != nil {
		return ""
	}
	m, _ := parseModeRecord(b)
	return m
}

// copyMarker is the file whose presence says target holds a complete copy.
// It lives next to target, outside what the container sees.
func copyMarker(target string) string {
	target = path.Clean(target)
	return path.Join(path.Dir(target), "."+path.Base(target)+".copy-complete")
}

// copyMarkerData is what the marker holds: the layers the copy was made
// from, so that a copy of other layers is never taken for this one.
func copyMarkerData(lowers []string) string {
	return strings.Join(lowers, "\n") + "\n"
}
