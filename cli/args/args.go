// Package args is the one look at box's command line that comes before
// parsing: which command it names. The CLI uses it to build only box run's
// grammar for box run, and package run/prestart, in an initialiser before
// the CLI exists, to decide whether to start a container's init ahead. It
// imports nothing of box's, so that initialiser does not wait for others.
package args

import "strings"

// globalWithValue are box's global flags that take a separate value.
var globalWithValue = map[string]bool{"--root": true, "--config": true}

// Command returns the index in args of the command (the first argument
// that is neither a global flag nor its value), or len(args) when there is
// none.
func Command(args []string) int {
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case globalWithValue[a]:
			i++ // its value
		case strings.HasPrefix(a, "-"):
		default:
			return i
		}
	}
	return len(args)
}
