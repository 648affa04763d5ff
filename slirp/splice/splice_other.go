//go:build !linux

package splice

import (
	"io"
	"net"
)

// kernelHalf copies with Go's own TCPConn.ReadFrom, holding whatever it
// holds while it waits.
func kernelHalf(dst, src *net.TCPConn) error {
	_, err := io.Copy(dst, src)
	if err == nil {
		closeWrite(dst)
	}
	return err
}

// readable cannot wait without reading here: Join's read waits instead.
func readable(c *net.TCPConn) error { return nil }
