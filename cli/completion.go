package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/alecthomas/kong"
	"github.com/posener/complete"
	"github.com/willabides/kongplete"
)

type completionCmd struct {
	Shell string `arg:"" enum:"bash,zsh,fish" help:"Shell: bash, zsh or fish."`
}

// Run prints the script that makes the shell ask box itself for
// completions (kongplete answers when COMP_LINE is set; see answerCompletion).
func (c *completionCmd) Run() error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding box's own path: %w", err)
	}
	switch c.Shell {
	case "bash":
		fmt.Printf("complete -o default -C %s box\n", shellQuote(exe))
	case "zsh":
		fmt.Printf("autoload -U +X bashcompinit && bashcompinit\ncomplete -o default -C %s box\n", shellQuote(exe))
	case "fish":
		fmt.Printf(`function __complete_box
    set -lx COMP_LINE (commandline -cp)
    test -z (commandline -ct)
    and set COMP_LINE "$COMP_LINE "
    %s
end
complete -f -c box -a "(__complete_box)"
`, shellQuote(exe))
	}
	return nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// answerCompletion answers a shell's completion request (COMP_LINE set by the
// script completion prints) and exits; otherwise it returns at once.
// Commands name what their arguments are with a predictor tag: image,
// container (any) or running.
func answerCompletion(parser *kong.Kong) {
	if os.Getenv("COMP_LINE") == "" {
		return
	}
	g := &globals{Root: os.Getenv("BOX_ROOT"), Config: os.Getenv("BOX_CONFIG")}
	g.setup()
	kongplete.Complete(parser,
		kongplete.WithPredictor("image", firstArg(g.imageNames)),
		kongplete.WithPredictor("container", complete.PredictFunc(func(complete.Args) []string { return g.containerNames(false) })),
		kongplete.WithPredictor("running", firstArg(func() []string { return g.containerNames(true) })),
		kongplete.WithExitFunc(func(code int) { panic(exitCode(code)) }),
	)
}

// firstArg predicts names for a command's first argument only (the image
// of box run, the container of box exec), not for the command after it.
func firstArg(names func() []string) complete.Predictor {
	return complete.PredictFunc(func(a complete.Args) []string {
		if len(a.Completed) > 0 {
			last := a.LastCompleted
			if !strings.HasPrefix(last, "-") && !isCommand(last) {
				return nil
			}
		}
		return names()
	})
}

func isCommand(s string) bool {
	switch s {
	case "run", "exec", "create":
		return true
	}
	return false
}

// imageNames are the store's image names (name:tag), for completion.
func (g *globals) imageNames() []string {
	st, err := g.openStore()
	if err != nil {
		return nil
	}
	imgs, err := st.Images()
	if err != nil {
		return nil
	}
	var out []string
	for _, img := range imgs {
		for _, n := range img.Names {
			out = append(out, n, strings.TrimPrefix(strings.TrimPrefix(n, "docker.io/"), "library/"))
		}
	}
	return out
}

// containerNames are the names of the store's containers (running ones
// only, if running).
func (g *globals) containerNames(running bool) []string {
	cs, err := g.containers()
	if err != nil {
		return nil
	}
	all, err := cs.List()
	if err != nil {
		return nil
	}
	var out []string
	for _, ct := range all {
		if !running || ct.Status == "running" {
			out = append(out, ct.Name)
		}
	}
	return out
}
