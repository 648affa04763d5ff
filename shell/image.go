package shell

import (
	"bufio"
	"bytes"
	"strings"
)

// FallbackImage is the image of a shell when nothing names one and the
// host's distribution has no image box knows.
const FallbackImage = "debian:stable"

// DefaultImage is an image of the host's own distribution and version,
// from the contents of /etc/os-release; FallbackImage when unknown.
func DefaultImage(osRelease []byte) string {
	kv := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(osRelease))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if ok {
			kv[k] = strings.Trim(v, `"'`)
		}
	}
	id, ver := kv["ID"], kv["VERSION_ID"]
	major, minor, _ := strings.Cut(ver, ".")
	switch id {
	case "debian":
		if ver != "" {
			return "debian:" + major
		}
		return FallbackImage // testing and sid have no VERSION_ID
	case "ubuntu", "fedora":
		if ver != "" {
			return id + ":" + ver
		}
	case "alpine":
		if major != "" && minor != "" {
			return "alpine:" + major + "." + strings.SplitN(minor, ".", 2)[0]
		}
	case "arch", "archlinux":
		return "archlinux:latest"
	case "opensuse-tumbleweed":
		return "opensuse/tumbleweed:latest"
	case "opensuse-leap":
		if ver != "" {
			return "opensuse/leap:" + ver
		}
	case "rocky", "almalinux":
		name := map[string]string{"rocky": "rockylinux", "almalinux": "almalinux"}[id]
		if major != "" {
			return name + ":" + major
		}
	}
	return FallbackImage
}
