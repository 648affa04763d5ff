package cli

import (
	"github.com/box-run/box/config"
	"github.com/box-run/box/image"
)

// registryOptions hands the config's registry tables to the store, which does
// not read config itself.
func registryOptions(c *config.Config) func(string) image.RegistryConfig {
	return func(host string) image.RegistryConfig {
		r := c.Registry(host)
		return image.RegistryConfig{Mirrors: r.Mirrors, Insecure: r.Insecure, CA: r.CA}
	}
}
