package pid1

import (
	"fmt"
	"strconv"
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

// CheckTmpfs checks a tmpfs Mount's data (what TmpfsMountArgs leaves after
// the flag words) as the kernel's tmpfs reads it (mm/shmem.c), so that box
// run refuses a bad option before it creates anything, rather than init
// failing on it. What only the kernel in the container's namespaces knows
// stays for init to find: whether a uid= or gid= is mapped there, an mpol=
// node, huge pages being built in.
func CheckTmpfs(m proto.Mount) error {
	_, data := TmpfsMountArgs(m)
	if data == "" {
		return nil
	}
	// As the kernel splits them (shmem_parse_monolithic): a comma followed
	// by a digit stays in the option, for mpol's node lists.
	var opts []string
	for _, o := range strings.Split(data, ",") {
		if len(opts) > 0 && o != "" && '0' <= o[0] && o[0] <= '9' {
			opts[len(opts)-1] += "," + o
			continue
		}
		opts = append(opts, o)
	}
	for _, opt := range opts {
		if opt == "" {
			continue
		}
		if err := checkTmpfsOption(opt); err != nil {
			return err
		}
	}
	return nil
}

func checkTmpfsOption(opt string) error {
	key, value, hasValue := strings.Cut(opt, "=")
	switch key {
	case "inode32", "inode64":
		if hasValue {
			return fmt.Errorf("tmpfs option %q takes no value", key)
		}
		return nil
	case "noswap", "quota", "usrquota", "grpquota",
		"usrquota_block_hardlimit", "usrquota_inode_hardlimit", "grpquota_block_hardlimit", "grpquota_inode_hardlimit":
		return fmt.Errorf("tmpfs option %q is not available in a rootless container", key)
	case "size", "nr_blocks", "nr_inodes", "mode", "uid", "gid", "huge", "mpol":
		if !hasValue {
			return fmt.Errorf("tmpfs option %q needs a value", key)
		}
	default:
		return fmt.Errorf("unknown tmpfs option %q", opt)
	}
	bad := func(what string) error { return fmt.Errorf("invalid %s %q", what, value) }
	switch key {
	case "size":
		if !memparse(value, true) {
			return bad("size")
		}
	case "nr_blocks", "nr_inodes":
		if !memparse(value, false) {
			return bad(key)
		}
	case "mode":
		// kstrtouint(s, 8): an optional +, octal digits; the kernel keeps
		// the permission bits.
		if _, err := strconv.ParseUint(strings.TrimPrefix(value, "+"), 8, 32); err != nil {
			return bad("mode")
		}
	case "uid", "gid":
		// kstrtouint(s, 0); (uid_t)-1 is no one.
		n, rest, ok := kernelUint(strings.TrimPrefix(value, "+"))
		if !ok || rest != "" || n > 1<<32-2 {
			return bad(key)
		}
	case "huge":
		switch value {
		case "never", "always", "within_size", "advise":
		default:
			return fmt.Errorf("invalid huge %q: want never, always, within_size or advise", value)
		}
	case "mpol":
		// MODE[=FLAGS][:NODELIST] (mm/mempolicy.c mpol_parse_str); the
		// kernel knows the nodes.
		mode, _, _ := strings.Cut(value, ":")
		mode, _, _ = strings.Cut(mode, "=")
		switch mode {
		case "default", "prefer", "bind", "interleave", "weighted interleave", "local":
		default:
			return bad("mpol")
		}
	}
	return nil
}

// memparse reports whether s reads whole as the kernel's memparse reads a
// size: a number (decimal, 0x hex or 0 octal), an optional K, M, G, T, P or
// E (powers of 1024) and, with percent (size= only), an optional %.
func memparse(s string, percent bool) bool {
	n, rest, ok := kernelUint(s)
	if !ok {
		return false
	}
	if rest != "" {
		if i := strings.IndexByte("KMGTPE", rest[0]&^0x20); i >= 0 {
			if shift := 10 * uint(i+1); n > (1<<64-1)>>shift {
				return false // the kernel would wrap round; no one means that
			}
			rest = rest[1:]
		}
	}
	if percent && rest == "%" {
		rest = ""
	}
	return rest == ""
}

// kernelUint reads the leading number of s as the kernel's _parse_integer
// does with base 0 (0x… hex when a hex digit follows, 0… octal, else
// decimal) and returns what follows it; false when no digit is read or it
// overflows.
func kernelUint(s string) (n uint64, rest string, ok bool) {
	base, digits := uint64(10), s
	switch {
	case len(s) >= 3 && s[0] == '0' && s[1]|0x20 == 'x' && hexDigit(s[2]) < 16:
		base, digits = 16, s[2:]
	case len(s) >= 1 && s[0] == '0':
		base = 8
	}
	i := 0
	for ; i < len(digits); i++ {
		d := hexDigit(digits[i])
		if d >= base {
			break
		}
		if n > (1<<64-1-d)/base {
			return 0, "", false
		}
		n = n*base + d
	}
	return n, digits[i:], i > 0
}

func hexDigit(c byte) uint64 {
	switch {
	case '0' <= c && c <= '9':
		return uint64(c - '0')
	case 'a' <= c|0x20 && c|0x20 <= 'f':
		return uint64(c|0x20-'a') + 10
	}
	return 99
}
