package run

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseSecurityOpts reads docker's --security-opt values: no-new-privileges
// ([=:]true|false, the last one given wins) says whether no_new_privs is
// set, as docker's (off unless asked). The others are taken where they ask
// for what box does anyway, and refused with why where they do not, rather
// than ignored: box applies no seccomp filter, no AppArmor profile and no
// SELinux label (the user namespace and the capabilities confine the
// container), and masks no /proc paths (systempaths=unconfined).
func ParseSecurityOpts(opts []string) (noNewPrivs bool, err error) {
	for _, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			k, v, ok = strings.Cut(o, ":")
		}
		switch {
		case k == "no-new-privileges" && !ok:
			noNewPrivs = true
		case k == "no-new-privileges":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return false, fmt.Errorf("--security-opt %s: no-new-privileges takes true or false", o)
			}
			noNewPrivs = b
		case k == "seccomp" && v == "unconfined", k == "apparmor" && v == "unconfined", k == "label" && v == "disable", k == "systempaths" && v == "unconfined":
		case k == "seccomp" || k == "apparmor" || k == "label":
			return false, fmt.Errorf("--security-opt %s: box applies no %s (only %s is taken, which is what box does)", o, map[string]string{"seccomp": "seccomp profile", "apparmor": "AppArmor profile", "label": "SELinux label"}[k], map[string]string{"seccomp": "seccomp=unconfined", "apparmor": "apparmor=unconfined", "label": "label=disable"}[k])
		default:
			return false, fmt.Errorf("--security-opt %s: not supported (box takes no-new-privileges[=true|false], seccomp=unconfined, apparmor=unconfined, label=disable and systempaths=unconfined)", o)
		}
	}
	return noNewPrivs, nil
}
