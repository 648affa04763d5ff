package run

import (
	"fmt"
	"strconv"
	"strings"
)

// CheckSecurityOpts takes docker's --security-opt values that ask for what
// box does anyway, and refuses the others with why, rather than ignore
// them: box always sets no_new_privs, and applies no seccomp filter, no
// AppArmor profile and no SELinux label (the user namespace and the
// capabilities are what confine the container).
func CheckSecurityOpts(opts []string) error {
	for _, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			k, v, ok = strings.Cut(o, ":")
		}
		nnp, boolErr := strconv.ParseBool(v)
		switch {
		case k == "no-new-privileges" && (!ok || boolErr == nil && nnp):
		case k == "no-new-privileges" && boolErr == nil:
			return fmt.Errorf("--security-opt %s: box always sets no_new_privs", o)
		case k == "seccomp" && v == "unconfined", k == "apparmor" && v == "unconfined", k == "label" && v == "disable":
		case k == "seccomp" || k == "apparmor" || k == "label":
			return fmt.Errorf("--security-opt %s: box applies no %s (only %s is taken, which is what box does)", o, map[string]string{"seccomp": "seccomp profile", "apparmor": "AppArmor profile", "label": "SELinux label"}[k], map[string]string{"seccomp": "seccomp=unconfined", "apparmor": "apparmor=unconfined", "label": "label=disable"}[k])
		default:
			return fmt.Errorf("--security-opt %s: not supported (box takes no-new-privileges, seccomp=unconfined, apparmor=unconfined and label=disable)", o)
		}
	}
	return nil
}
