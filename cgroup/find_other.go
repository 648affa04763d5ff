//go:build !linux

package cgroup

import "errors"

// Find returns errors.ErrUnsupported: cgroups are Linux's.
func Find() (*Delegation, error) { return nil, errors.ErrUnsupported }
