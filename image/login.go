package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// CheckLogin verifies user and password against registry host: the token
// exchange for bearer registries, GET /v2/ with the credentials for basic ones.
func (s *Store) CheckLogin(ctx context.Context, host, user, password string) error {
	var opts []name.Option
	if s.registryConfig(host).Insecure {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(host, opts...)
	if err != nil {
		return fmt.Errorf("invalid registry %q: %w", host, err)
	}
	base, err := s.Transport(host)
	if err != nil {
		return err
	}
	auth := &authn.Basic{Username: user, Password: password}
	t, err := transport.NewWithContext(ctx, reg, auth, base, []string{reg.Scope(transport.PullScope)})
	if err != nil {
		return loginError(host, err)
	}
	// The scheme here is a placeholder: the transport rewrites it to what
	// its ping found (https, or http for an insecure or loopback registry).
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+reg.RegistryStr()+"/v2/", nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: t}).Do(req)
	if err != nil {
		return loginError(host, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return loginError(host, err)
	}
	return nil
}

func loginError(host string, err error) error {
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusUnauthorized {
		return fmt.Errorf("logging in to %s: wrong username or password", host)
	}
	return fmt.Errorf("logging in to %s: %w", host, explain(host, err))
}
