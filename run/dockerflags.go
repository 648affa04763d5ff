package run

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/box-run/box/run/proto"
	units "github.com/docker/go-units"
)

// parseExpose reads --expose values (docker's PORT[-PORT][/tcp|udp]) into
// docker's "80/tcp" keys: ports -P publishes and inspect shows, published
// by nothing else.
func parseExpose(ss []string) ([]string, error) {
	var out []string
	for _, s := range ss {
		ports, proto, hasProto := strings.Cut(s, "/")
		if !hasProto {
			proto = "tcp"
		}
		if proto != "tcp" && proto != "udp" {
			return nil, fmt.Errorf("invalid --expose %q: box publishes TCP and UDP ports only", s)
		}
		from, to, err := portRange(ports)
		if err != nil {
			return nil, fmt.Errorf("invalid --expose %q: %w", s, err)
		}
		for p := from; p <= to; p++ {
			out = append(out, strconv.Itoa(p)+"/"+proto)
		}
	}
	return out, nil
}

// parseShmSize reads --shm-size (go-units' sizes, as docker: 64m, 1g; a
// bare number is bytes); "" and 0 are docker's 64m, given as 0.
func parseShmSize(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := units.RAMInBytes(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid --shm-size %q: want a size such as 64m or 1g", s)
	}
	return n, nil
}

// ipcSysctls are the IPC namespace's kernel parameters docker allows.
var ipcSysctls = map[string]bool{
	"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true, "kernel.sem": true,
	"kernel.shmall": true, "kernel.shmmax": true, "kernel.shmmni": true, "kernel.shm_rmid_forced": true,
}

// parseSysctls reads --sysctl NAME=VALUE with docker's rules: only what the
// container's own namespaces hold, net.* (not with --network host) and the
// IPC parameters and fs.mqueue.* (not with --ipc host). NAME is dotted or
// in /proc/sys's slash form (for an interface with a dot in its name).
func parseSysctls(ss []string, network string, ipcHost bool) ([]proto.Sysctl, error) {
	var out []proto.Sysctl
	for _, s := range ss {
		name, value, ok := strings.Cut(s, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("invalid --sysctl %q: want NAME=VALUE", s)
		}
		if strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return nil, fmt.Errorf("invalid --sysctl %q: not a kernel parameter's name", s)
		}
		p := name
		if !strings.Contains(p, "/") {
			p = strings.ReplaceAll(p, ".", "/")
		}
		dotted := strings.ReplaceAll(p, "/", ".")
		for _, c := range strings.Split(p, "/") {
			if c == "" || c == "." || c == ".." {
				return nil, fmt.Errorf("invalid --sysctl %q: not a kernel parameter's name", s)
			}
		}
		if strings.ContainsAny(value, "\n\x00") {
			return nil, fmt.Errorf("invalid --sysctl %q: one line of value", s)
		}
		switch {
		case strings.HasPrefix(dotted, "net."):
			if network == "host" {
				return nil, fmt.Errorf("--sysctl %s cannot go with --network host: it would set the host's", name)
			}
		case ipcSysctls[dotted] || strings.HasPrefix(dotted, "fs.mqueue."):
			if ipcHost {
				return nil, fmt.Errorf("--sysctl %s cannot go with --ipc host: it would set the host's", name)
			}
		default:
			return nil, fmt.Errorf("--sysctl %s is not allowed: only net.*, fs.mqueue.* and the IPC namespace's kernel.msg*, kernel.sem and kernel.shm* belong to the container", name)
		}
		out = append(out, proto.Sysctl{Name: name, Path: p, Value: value})
	}
	return out, nil
}

// checkDomainname refuses a --domainname that is no RFC 1123 name or is
// longer than the kernel keeps (64).
func checkDomainname(s string) error {
	if len(s) > 64 || !validHostName(s, false) {
		return fmt.Errorf("invalid --domainname %q: want letters, digits and hyphens, in labels separated by dots (RFC 1123), at most 64 characters", s)
	}
	return nil
}
