// Package child is the child half of package userns's start-up handshake:
// the few system calls a process started by userns.Start makes before
// anything else. It is apart from userns so that the container's init
// (package run/pid1), which runs from a package initialiser, imports
// neither os/exec nor path/filepath: Go initialises packages in import
// path order among those whose imports are ready, so every dependency of
// init that becomes ready late lets unrelated packages' initialisers run
// first (see run/pid1's doc).
package child

// EnvSyncFD names the descriptor a helper-mapped child waits on for its
// maps (see userns's doc).
const EnvSyncFD = "_BOX_USERNS_SYNC_FD"
