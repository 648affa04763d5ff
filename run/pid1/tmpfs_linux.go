package pid1

import (
	"strings"

	"github.com/box-run/box/run/proto"
	"golang.org/x/sys/unix"
)

// mountFlags are the flag words of mount(8): the flag and whether the word
// sets (true) or clears it.
var mountFlags = map[string]struct {
	flag uintptr
	set  bool
}{
	"ro": {unix.MS_RDONLY, true}, "rw": {unix.MS_RDONLY, false},
	"noexec": {unix.MS_NOEXEC, true}, "exec": {unix.MS_NOEXEC, false},
	"nosuid": {unix.MS_NOSUID, true}, "suid": {unix.MS_NOSUID, false},
	"nodev": {unix.MS_NODEV, true}, "dev": {unix.MS_NODEV, false},
	"noatime": {unix.MS_NOATIME, true}, "atime": {unix.MS_NOATIME, false},
	"nodiratime": {unix.MS_NODIRATIME, true}, "diratime": {unix.MS_NODIRATIME, false},
	"relatime": {unix.MS_RELATIME, true}, "norelatime": {unix.MS_RELATIME, false},
	"strictatime": {unix.MS_STRICTATIME, true}, "nostrictatime": {unix.MS_STRICTATIME, false},
	"sync": {unix.MS_SYNCHRONOUS, true}, "async": {unix.MS_SYNCHRONOUS, false},
	"dirsync": {unix.MS_DIRSYNC, true},
}

// TmpfsMountArgs turns a tmpfs Mount into mount(2) flags and data. Like
// docker, a tmpfs starts noexec, nosuid and nodev; the user's flag words
// then set or clear flags and the rest is the data string.
func TmpfsMountArgs(m proto.Mount) (flags uintptr, data string) {
	flags = unix.MS_NOEXEC | unix.MS_NOSUID | unix.MS_NODEV
	var kv []string
	for _, opt := range m.Options {
		f, ok := mountFlags[opt]
		switch {
		case !ok:
			kv = append(kv, opt)
		case f.set:
			flags |= f.flag
		default:
			flags &^= f.flag
		}
	}
	if m.ReadOnly {
		flags |= unix.MS_RDONLY
	}
	return flags, strings.Join(kv, ",")
}

// IsMountFlag tells whether opt is one of mount(8)'s flag words.
func IsMountFlag(opt string) bool {
	_, ok := mountFlags[opt]
	return ok
}
