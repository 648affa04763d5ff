// Package run runs containers: the host stage that prepares a container,
// starts its init (package pid1) in new namespaces and monitors it.
package run

import "github.com/box-run/box/run/pid1"

// The container's description and the exec protocol are init's; the host
// builds and speaks them.
type (
	Spec        = pid1.Spec
	Mount       = pid1.Mount
	Port        = pid1.Port
	ExecRequest = pid1.ExecRequest
)

const (
	StageEnv   = pid1.StageEnv
	ExecSocket = pid1.ExecSocket
)
