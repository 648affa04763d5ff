// Package siginfo records who sent the signals a Go program catches: the
// sender's pid (si_pid) and how it was sent (si_code: SI_USER for kill,
// SI_QUEUE for sigqueue, SI_TKILL for tgkill) of each signal's last
// delivery.
//
// Go's os/signal passes on only the signal's number, and no library
// exposes the siginfo_t the kernel hands a handler to a Go program
// without cgo (box is one static binary, CGO_ENABLED=0), so the recorder
// is a few lines of hand-written assembly (amd64 and arm64). Watch, called
// after signal.Notify has installed Go's handler for a signal, reads that
// handler with rt_sigaction and installs the recorder in its place, with
// the same flags, mask and restorer. The recorder stores si_pid (offset 16
// of siginfo_t) and si_code (offset 8) in one 64-bit word of a table
// indexed by the signal's number, and jumps to Go's handler with its
// argument registers untouched; it uses no stack and only scratch
// registers the kernel restores at sigreturn. The store comes before Go's
// handler queues the signal for os/signal, so Last, read once the signal
// has come through the channel, tells who sent that delivery (or a later
// one of the same signal, which Go would merge with it anyway).
//
// Where Watch cannot install it (another architecture, rt_sigaction
// failing, no Go handler to chain to) the sender is unknown: Last reports
// ok false.
package siginfo

// Codes of si_code (asm-generic/siginfo.h).
const (
	SIUser  = 0  // SI_USER: kill, killpg, pidfd_send_signal without info
	SIQueue = -1 // SI_QUEUE: sigqueue, rt_sigqueueinfo
	SITkill = -6 // SI_TKILL: tgkill, tkill
)
