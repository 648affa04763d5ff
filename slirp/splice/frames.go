package splice

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// The UDP flows between two containers of a network go over one stream
// connection (a member's peer socket), each datagram framed with its
// length: two bytes, big-endian, then the datagram. Both ends, the
// sender's netstack (package slirp) and the member's monitor (package
// run), frame and read them here.

// FrameHeader is the length of a frame's header.
const FrameHeader = 2

// AppendFrame appends datagram b, framed, to dst.
func AppendFrame(dst, b []byte) []byte {
	return append(binary.BigEndian.AppendUint16(dst, uint16(len(b))), b...)
}

// Frame frames the n-byte datagram read into buf[FrameHeader:] in place,
// and returns the frame.
func Frame(buf []byte, n int) []byte {
	binary.BigEndian.PutUint16(buf, uint16(n))
	return buf[:FrameHeader+n]
}

// FrameReader reads framed datagrams from a stream.
type FrameReader struct {
	r   *bufio.Reader
	buf []byte
}

// NewFrameReader reads frames from r.
func NewFrameReader(r io.Reader) *FrameReader {
	return &FrameReader{r: bufio.NewReaderSize(r, 64<<10), buf: make([]byte, 65535)}
}

// Next returns the next datagram, valid until the next call. An error
// before any byte of a frame (an end of stream, a read deadline) is the
// stream's own, after which Next may be called again; one within a frame
// means the framing is lost.
func (f *FrameReader) Next() ([]byte, error) {
	var hdr [FrameHeader]byte
	if k, err := io.ReadFull(f.r, hdr[:]); err != nil {
		if k > 0 {
			return nil, fmt.Errorf("a frame cut short: %w", io.ErrUnexpectedEOF)
		}
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(f.r, f.buf[:n]); err != nil {
		return nil, fmt.Errorf("a frame cut short: %w", io.ErrUnexpectedEOF)
	}
	return f.buf[:n], nil
}
