package quick

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/box-run/box/internal/events"
	"github.com/box-run/box/internal/locate"
	"github.com/box-run/box/run/environ"
	"github.com/box-run/box/run/pid1"
	"github.com/box-run/box/run/proto"
)

// box exec into a running detached container, by name, as package cli's
// execCmd does it; anything else (an id, a stopped container, a flag
// written another way) is box exec's. Opening the store, box also removes
// --rm containers whose box was killed; the quick path leaves that to the
// next command that is not one of its own.

// execRequest is a parsed `box exec` the quick path may take.
type execRequest struct {
	interactive, tty, detach bool
	env, envFiles            []string
	workdir, user            string
	container                string
	args                     []string
}

// parseExec takes box exec's arguments when every flag is one the quick
// path reads as box's parser does: -i, -t, -d (alone or together, as
// -it), and -e, --env-file, -w and -u with their value as the next
// argument or after "=" in the long form (--env=K=V); an --env-file by its
// absolute, clean path (box resolves others against the working directory,
// cleans them, and names them so in errors).
func parseExec(rest []string) (execRequest, bool) {
	var r execRequest
	for len(rest) > 0 && strings.HasPrefix(rest[0], "-") {
		a := rest[0]
		rest = rest[1:]
		if len(a) > 1 && a[1] != '-' && strings.Trim(a[1:], "itd") == "" {
			r.interactive = r.interactive || strings.Contains(a, "i")
			r.tty = r.tty || strings.Contains(a, "t")
			r.detach = r.detach || strings.Contains(a, "d")
			continue
		}
		switch a {
		case "--interactive":
			r.interactive = true
			continue
		case "--tty":
			r.tty = true
			continue
		case "--detach":
			r.detach = true
			continue
		}
		flag, value, inline := strings.Cut(a, "=")
		if inline && !strings.HasPrefix(flag, "--") {
			return r, false // -e=K=V: box's ("=K=V")
		}
		if !inline {
			if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
				return r, false // box's parser says what is missing
			}
			value, rest = rest[0], rest[1:]
		}
		switch flag {
		case "-e", "--env":
			r.env = append(r.env, value)
		case "--env-file":
			if !filepath.IsAbs(value) || filepath.Clean(value) != value {
				return r, false // box resolves and cleans it, and names it so
			}
			r.envFiles = append(r.envFiles, value)
		case "-w", "--workdir":
			r.workdir = value
		case "-u", "--user":
			r.user = value
		default:
			return r, false
		}
	}
	if len(rest) < 2 {
		return r, false
	}
	r.container, r.args = rest[0], rest[1:]
	return r, true
}

// execute runs box exec's request, or returns ok false, having done
// nothing, when box exec is to do it.
func execute(where store, r execRequest) (code int, ok bool) {
	env, err := environ.ExecEnv(r.env, r.envFiles, nil)
	if err != nil {
		return 0, false
	}
	root, ok := where.dir()
	if !ok {
		return 0, false
	}
	containers := locate.ContainersDir(root)
	name := r.container
	if name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return 0, false
	}
	id, err := os.Readlink(filepath.Join(containers, "names", name))
	if err != nil || id == "" || strings.Contains(id, "/") {
		return 0, false
	}
	dir, ct, ok := running(containers, id)
	if !ok {
		return 0, false
	}
	if _, err := os.Stat(filepath.Join(dir, proto.ExecSocket)); err != nil {
		return 0, false
	}
	start, die := events.Exec(root, id, events.ContainerAttrs(ct.Image, ct.Name, ct.Labels), r.args)
	status, err := pid1.ExecCommand(dir, proto.ExecRequest{Args: r.args, Env: env, Cwd: r.workdir, User: r.user, TTY: r.tty}, r.interactive, r.detach, start)
	if !r.detach {
		die(status) // as box exec's (package cli)
	}
	if err != nil {
		return fail(status, err), true
	}
	return status, true
}
