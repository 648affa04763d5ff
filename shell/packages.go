package shell

import "strings"

// InstallScript is the sh script that installs pkgs with the image's own
// package manager, the first of apk, apt-get, dnf, pacman and zypper it
// has, and fails with status 127 when it has none. Names are quoted; the
// dotfile's checks already refuse any that a shell would read twice.
func InstallScript(pkgs []string) string {
	q := make([]string, len(pkgs))
	for i, p := range pkgs {
		q[i] = "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
	}
	p := strings.Join(q, " ")
	return `set -e
if command -v apk >/dev/null 2>&1; then apk add --no-cache ` + p + `
elif command -v apt-get >/dev/null 2>&1; then export DEBIAN_FRONTEND=noninteractive; apt-get update -q; apt-get install -y -q ` + p + `
elif command -v dnf >/dev/null 2>&1; then dnf install -y ` + p + `
elif command -v pacman >/dev/null 2>&1; then pacman -Sy --noconfirm --needed ` + p + `
elif command -v zypper >/dev/null 2>&1; then zypper --non-interactive install ` + p + `
else echo "the image has no package manager box knows (apk, apt-get, dnf, pacman, zypper)" >&2; exit 127
fi
`
}
