package pid1

import (
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// capNames are capabilities(7)'s names, as --cap-add and --cap-drop take
// them (without "CAP_"). A table of names is all this needs, so no
// library is linked for it.
var capNames = map[string]uintptr{
	"CHOWN": unix.CAP_CHOWN, "DAC_OVERRIDE": unix.CAP_DAC_OVERRIDE, "DAC_READ_SEARCH": unix.CAP_DAC_READ_SEARCH,
	"FOWNER": unix.CAP_FOWNER, "FSETID": unix.CAP_FSETID, "KILL": unix.CAP_KILL, "SETGID": unix.CAP_SETGID,
	"SETUID": unix.CAP_SETUID, "SETPCAP": unix.CAP_SETPCAP, "LINUX_IMMUTABLE": unix.CAP_LINUX_IMMUTABLE,
	"NET_BIND_SERVICE": unix.CAP_NET_BIND_SERVICE, "NET_BROADCAST": unix.CAP_NET_BROADCAST,
	"NET_ADMIN": unix.CAP_NET_ADMIN, "NET_RAW": unix.CAP_NET_RAW, "IPC_LOCK": unix.CAP_IPC_LOCK,
	"IPC_OWNER": unix.CAP_IPC_OWNER, "SYS_MODULE": unix.CAP_SYS_MODULE, "SYS_RAWIO": unix.CAP_SYS_RAWIO,
	"SYS_CHROOT": unix.CAP_SYS_CHROOT, "SYS_PTRACE": unix.CAP_SYS_PTRACE, "SYS_PACCT": unix.CAP_SYS_PACCT,
	"SYS_ADMIN": unix.CAP_SYS_ADMIN, "SYS_BOOT": unix.CAP_SYS_BOOT, "SYS_NICE": unix.CAP_SYS_NICE,
	"SYS_RESOURCE": unix.CAP_SYS_RESOURCE, "SYS_TIME": unix.CAP_SYS_TIME, "SYS_TTY_CONFIG": unix.CAP_SYS_TTY_CONFIG,
	"MKNOD": unix.CAP_MKNOD, "LEASE": unix.CAP_LEASE, "AUDIT_WRITE": unix.CAP_AUDIT_WRITE,
	"AUDIT_CONTROL": unix.CAP_AUDIT_CONTROL, "SETFCAP": unix.CAP_SETFCAP, "MAC_OVERRIDE": unix.CAP_MAC_OVERRIDE,
	"MAC_ADMIN": unix.CAP_MAC_ADMIN, "SYSLOG": unix.CAP_SYSLOG, "WAKE_ALARM": unix.CAP_WAKE_ALARM,
	"BLOCK_SUSPEND": unix.CAP_BLOCK_SUSPEND, "AUDIT_READ": unix.CAP_AUDIT_READ, "PERFMON": unix.CAP_PERFMON,
	"BPF": unix.CAP_BPF, "CHECKPOINT_RESTORE": unix.CAP_CHECKPOINT_RESTORE,
}

// ResolveCaps is the workload's capabilities for --cap-add and --cap-drop,
// docker's way: names with or without "CAP_", in any case, or ALL. With
// ALL added, every capability but those dropped; with ALL dropped, only
// those added; else docker's default set without the dropped and with the
// added. nil, nil when neither is given: the default (DefaultCaps). They
// hold within the container's user namespace only, as any capability
// there does.
func ResolveCaps(add, drop []string) ([]uintptr, error) {
	if len(add) == 0 && len(drop) == 0 {
		return nil, nil
	}
	norm := func(names []string) (all bool, caps []uintptr, err error) {
		for _, n := range names {
			k := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(n)), "CAP_")
			if k == "ALL" {
				all = true
				continue
			}
			c, ok := capNames[k]
			if !ok {
				return false, nil, fmt.Errorf("unknown capability %q (see capabilities(7); e.g. NET_ADMIN, SYS_PTRACE, or ALL)", n)
			}
			caps = append(caps, c)
		}
		return all, caps, nil
	}
	addAll, adds, err := norm(add)
	if err != nil {
		return nil, err
	}
	// One this kernel does not know cannot be given (docker refuses it
	// too); ALL is what it knows.
	if last, err := lastCap(); err == nil {
		for _, c := range adds {
			if int(c) > last {
				for name, n := range capNames {
					if n == c {
						return nil, fmt.Errorf("capability CAP_%s is not known to this kernel (its last is number %d)", name, last)
					}
				}
			}
		}
	}
	dropAll, drops, err := norm(drop)
	if err != nil {
		return nil, err
	}
	// Never nil from here: nil is the default set, and dropping each of
	// its capabilities by name is none at all.
	out := make([]uintptr, 0, len(capNames))
	switch {
	case addAll: // all but the dropped (capMask leaves out what the kernel lacks)
		for _, c := range capNames {
			if !slices.Contains(drops, c) {
				out = append(out, c)
			}
		}
	case dropAll: // the added only
		out = append(out, adds...)
	default: // the default but the dropped, then the added
		for _, c := range DefaultCaps {
			if !slices.Contains(drops, c) {
				out = append(out, c)
			}
		}
		out = append(out, adds...)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// specCaps is the workload's capabilities: --cap-add's and --cap-drop's
// (proto.Spec.Caps), else docker's default set.
func specCaps(caps []uintptr) []uintptr {
	if caps == nil {
		return DefaultCaps
	}
	return caps
}
