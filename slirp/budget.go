package slirp

import (
	"sync/atomic"
	"time"
)

// The limits of one container's network (one Serve), explained in the
// package doc ("Limits").
const (
	// maxTCPFlows bounds the container's TCP connections through the
	// netstack, including those still being dialled on the host and DNS
	// over TCP. Past it a SYN gets a reset.
	maxTCPFlows = 256
	// maxLargeTCPFlows is how many of them have large buffers at once:
	// tcpMaxReceive and tcpMaxSend, given to a busy flow (flowSize). The
	// others keep smallTCPBuffer each way.
	maxLargeTCPFlows = 1
	tcpMaxReceive    = 4 << 20
	tcpMaxSend       = 4 << 20
	// smallTCPBuffer is every flow's receive buffer in the handshake (so
	// the window the container may fill before it hears otherwise is
	// small), and a small flow's receive and send buffer.
	smallTCPBuffer = 16 << 10
	// largeCopyBuffer and smallCopyBuffer are what each direction of a
	// large or small flow borrows while it copies (see package splice).
	largeCopyBuffer = 256 << 10
	smallCopyBuffer = 8 << 10

	// maxUDPFlows bounds the container's UDP flows: its own (each a host
	// socket), those to the DNS relay and those of published UDP ports.
	// A new flow past it evicts the one idle longest.
	maxUDPFlows = 512
	// udpIdle is how long a UDP flow lives without a datagram either way.
	udpIdle = 60 * time.Second

	// maxDNSInFlight bounds the UDP queries being relayed at once (each
	// a host socket); further queries are dropped and the resolver in the
	// container asks again.
	maxDNSInFlight = 64

	// memoryLimit is the Go runtime's soft memory limit while Serve runs:
	// with the binary's own pages, the monitor stays under 64 MiB.
	memoryLimit = 48 << 20
)

// counter is a count with a ceiling, for the limits above.
type counter struct {
	n   atomic.Int32
	max int32
}

// take counts one more, or reports false at the ceiling.
func (c *counter) take() bool {
	for {
		v := c.n.Load()
		if v >= c.max {
			return false
		}
		if c.n.CompareAndSwap(v, v+1) {
			return true
		}
	}
}

func (c *counter) release() { c.n.Add(-1) }
