package slirp

import (
	"os"

	"github.com/box-run/box/slirp/tap"
)

// SetupTAP checks cfg and makes the container's TAP with it (tap.Setup).
func SetupTAP(cfg Config) (*os.File, error) {
	cfg = cfg.withDefaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	return tap.Setup(cfg.TAP())
}
