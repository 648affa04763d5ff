package shell

import (
	"strings"
)

// ExpandContainerEnv expands what is left of a devcontainer.json's
// ${containerEnv:NAME[:default]} in v once the image is known: NAME in env
// (the image's K=V list), else the default, else "".
func ExpandContainerEnv(v string, env []string) string {
	const open = "${containerEnv:"
	var out strings.Builder
	for {
		i := strings.Index(v, open)
		if i < 0 {
			break
		}
		j := strings.IndexByte(v[i:], '}')
		if j < 0 {
			break
		}
		name, def, _ := strings.Cut(v[i+len(open):i+j], ":")
		val := def
		for _, kv := range env {
			if k, x, _ := strings.Cut(kv, "="); k == name && x != "" {
				val = x
			}
		}
		out.WriteString(v[:i])
		out.WriteString(val)
		v = v[i+j+1:]
	}
	out.WriteString(v)
	return out.String()
}
