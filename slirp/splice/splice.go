// Package splice joins two stream connections: it copies bytes both ways
// until both directions have ended. It is the one TCP proxy loop of box:
// the user-mode network's (a netstack connection and a host socket,
// package slirp) and the published ports' (two kernel sockets, package
// run). It lives under slirp because slirp, a leaf, may import no other
// package of box; it imports nothing of box itself.
//
// A flood holds thousands of connections, most of them idle, so a
// direction holds nothing while it waits for data: between two kernel TCP
// sockets it waits for the source to be readable and then moves exactly
// what is queued with splice(2) (Go's TCPConn.ReadFrom), so an idle
// connection keeps no pipe (two descriptors) of Go's splice pool; other
// connections borrow a buffer from a pool only once a read will not block
// (the source is a *net.TCPConn, or implements ReadWaiter).
//
// It does not dial, accept or limit connections: its callers do.
package splice

import (
	"errors"
	"io"
	"net"
	"sync"
)

// ReadWaiter is a connection that can wait until a read would not block,
// so that Join takes a buffer only when there is something to copy.
type ReadWaiter interface {
	// WaitRead returns once a read would not block: data, end of stream
	// or an error is there to be read. It returns an error only when the
	// connection is closed.
	WaitRead() error
}

// halfCloser is a connection that can shut down its write side.
type halfCloser interface{ CloseWrite() error }

// Join copies between a and b both ways until both directions have ended,
// and then closes both. A clean end of one direction is passed on as a
// half-close (CloseWrite); an error in either direction closes both
// connections, which ends the other direction too. bufSize is the buffer
// a direction borrows while it copies through user space (not between two
// kernel TCP sockets); 0 means DefaultBufSize. The second direction runs
// on the caller's goroutine.
func Join(a, b net.Conn, bufSize int) {
	if bufSize <= 0 {
		bufSize = DefaultBufSize
	}
	JoinSized(a, b, func() int { return bufSize })
}

// JoinSized is Join with a buffer size asked before each copy: a flow
// whose size changes while it runs (package slirp's busy flows get larger
// buffers).
func JoinSized(a, b net.Conn, bufSize func() int) {
	errs := make(chan error, 1)
	go func() { errs <- half(b, a, bufSize) }()
	if err := half(a, b, bufSize); err != nil {
		a.Close()
		b.Close()
	}
	if err := <-errs; err != nil {
		a.Close()
		b.Close()
	}
	a.Close()
	b.Close()
}

// DefaultBufSize is Join's buffer when its caller gives none.
const DefaultBufSize = 64 << 10

// half copies src to dst until src ends.
func half(dst, src net.Conn, bufSize func() int) error {
	if d, ok := dst.(*net.TCPConn); ok {
		if s, ok := src.(*net.TCPConn); ok {
			return kernelHalf(d, s)
		}
	}
	wait := waiter(src)
	size := bufSize()
	pool := poolOf(size)
	full := false
	for {
		// After a read that filled the buffer more is likely queued: read
		// again without asking.
		if wait != nil && !full {
			if err := wait(); err != nil {
				return err
			}
		}
		if s := bufSize(); s != size {
			size, pool = s, poolOf(s)
		}
		bp := pool.Get().(*[]byte)
		n, err := src.Read(*bp)
		full = n == len(*bp)
		if n > 0 {
			if _, werr := dst.Write((*bp)[:n]); werr != nil {
				pool.Put(bp)
				return werr
			}
		}
		pool.Put(bp)
		if errors.Is(err, io.EOF) {
			closeWrite(dst)
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func closeWrite(c net.Conn) {
	if hc, ok := c.(halfCloser); ok {
		hc.CloseWrite()
	}
}

// waiter returns how to wait until src can be read without blocking, or
// nil if it cannot tell.
func waiter(src net.Conn) func() error {
	switch s := src.(type) {
	case ReadWaiter:
		return s.WaitRead
	case *net.TCPConn:
		return func() error { return readable(s) }
	}
	return nil
}

var (
	poolsMu sync.Mutex
	pools   = map[int]*sync.Pool{}
)

// poolOf returns the buffer pool of one size (callers use a few sizes).
func poolOf(size int) *sync.Pool {
	poolsMu.Lock()
	defer poolsMu.Unlock()
	p := pools[size]
	if p == nil {
		p = &sync.Pool{New: func() any { b := make([]byte, size); return &b }}
		pools[size] = p
	}
	return p
}
