package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/types"
	"golang.org/x/term"
)

// Credentials live in docker's config file (~/.docker/config.json or
// $DOCKER_CONFIG), through docker's own package, so credential helpers and
// tools that read the file keep working.

type loginCmd struct {
	Username      string `short:"u" help:"User name."`
	PasswordStdin bool   `help:"Read the password from standard input."`
	Registry      string `arg:"" help:"Registry host, e.g. docker.io or host:port."`
}

func (c *loginCmd) Run(g *globals) error {
	host := registryHost(c.Registry)
	user, pass, err := c.credentials()
	if err != nil {
		return err
	}
	st, err := g.openStore()
	if err != nil {
		return err
	}
	if err := st.CheckLogin(context.Background(), host, user, pass); err != nil {
		return err
	}
	cf, err := config.Load(config.Dir())
	if err != nil {
		return fmt.Errorf("reading docker config: %w", err)
	}
	key := credentialKey(host)
	if err := cf.GetCredentialsStore(key).Store(types.AuthConfig{Username: user, Password: pass, ServerAddress: key}); err != nil {
		return fmt.Errorf("storing credentials: %w", err)
	}
	if err := cf.Save(); err != nil {
		return fmt.Errorf("saving %s: %w", cf.Filename, err)
	}
	fmt.Println("Login Succeeded")
	return nil
}

// credentials reads the user name and password from the flags, stdin or the terminal.
func (c *loginCmd) credentials() (user, pass string, err error) {
	user = c.Username
	stdinTTY := term.IsTerminal(int(os.Stdin.Fd()))
	if c.PasswordStdin {
		if user == "" {
			return "", "", errors.New("--password-stdin needs --username")
		}
		b, err := io.ReadAll(os.Stdin)
		if err != nil {
			return "", "", fmt.Errorf("reading password: %w", err)
		}
		pass = strings.TrimRight(string(b), "\r\n")
	} else {
		if !stdinTTY {
			return "", "", errors.New("no terminal to ask for the password: use --password-stdin")
		}
		if user == "" {
			fmt.Fprint(os.Stderr, "Username: ")
			line, err := bufio.NewReader(os.Stdin).ReadString('\n')
			if err != nil {
				return "", "", fmt.Errorf("reading user name: %w", err)
			}
			user = strings.TrimSpace(line)
		}
		fmt.Fprint(os.Stderr, "Password: ")
		b, err := term.ReadPassword(int(os.Stdin.Fd()))
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return "", "", fmt.Errorf("reading password: %w", err)
		}
		pass = string(b)
	}
	if user == "" || pass == "" {
		return "", "", errors.New("user name and password must not be empty")
	}
	return user, pass, nil
}

type logoutCmd struct {
	Registry string `arg:"" help:"Registry host."`
}

func (c *logoutCmd) Run(g *globals) error {
	host := registryHost(c.Registry)
	cf, err := config.Load(config.Dir())
	if err != nil {
		return fmt.Errorf("reading docker config: %w", err)
	}
	key := credentialKey(host)
	if _, ok := cf.AuthConfigs[key]; !ok && cf.CredentialsStore == "" && cf.CredentialHelpers[key] == "" {
		return withStatus(1, fmt.Errorf("not logged in to %s", host))
	}
	if err := cf.GetCredentialsStore(key).Erase(key); err != nil {
		return fmt.Errorf("removing credentials: %w", err)
	}
	if err := cf.Save(); err != nil {
		return fmt.Errorf("saving %s: %w", cf.Filename, err)
	}
	fmt.Printf("Removing login credentials for %s\n", host)
	return nil
}

// registryHost strips what users paste along with a host: a scheme, a path.
func registryHost(s string) string {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
	s, _, _ = strings.Cut(s, "/")
	switch s {
	case "index.docker.io", "registry-1.docker.io":
		return "docker.io"
	}
	return s
}

// credentialKey is the key docker uses in config.json for host.
func credentialKey(host string) string {
	if host == "docker.io" {
		return "https://index.docker.io/v1/"
	}
	return host
}
