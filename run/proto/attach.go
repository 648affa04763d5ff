package proto

import (
	"encoding/binary"
	"errors"
	"io"
)

// AttachSocket is the socket a detached container's monitor serves box
// attach on, in the container's directory. Both ways the stream is
// frames: a kind byte, a big-endian uint32 length, the payload. The
// monitor sends AttachStdout and AttachStderr (with a terminal, all is
// stdout), and AttachEnd once the container exited and all its output
// was sent (a stream that ends without it was cut: the client fell
// behind); box attach
// sends AttachInput (for a container made with -i) and AttachResize
// (rows and columns, two big-endian uint16, with a terminal).
const AttachSocket = "attach.sock"

// Frame kinds.
const (
	AttachStdout byte = 'o'
	AttachStderr byte = 'e'
	AttachInput  byte = 'i'
	AttachResize byte = 'r'
	AttachEnd    byte = 'x'
)

// maxFrame bounds a frame's payload: more is a broken peer.
const maxFrame = 1 << 20

// AppendAttachFrame appends one frame to dst.
func AppendAttachFrame(dst []byte, kind byte, payload []byte) []byte {
	dst = append(dst, kind)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	return append(dst, payload...)
}

// WriteAttachFrame writes one frame.
func WriteAttachFrame(w io.Writer, kind byte, payload []byte) error {
	_, err := w.Write(AppendAttachFrame(nil, kind, payload))
	return err
}

// ReadAttachFrame reads one frame into buf's storage (grown as needed).
func ReadAttachFrame(r io.Reader, buf []byte) (kind byte, payload []byte, err error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxFrame {
		return 0, nil, errors.New("attach: frame too large")
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	payload = buf[:n]
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	return hdr[0], payload, nil
}
