//go:build linux

package extract

import (
	"bytes"
	"io"
)

const blockSize = 512 // tar's record unit

var zeroBlock [blockSize]byte

// tarStream is what the tar.Reader reads from. It notices whether the
// archive ended with its end-of-archive marker (zero blocks): tar.Reader
// reports a stream cut exactly between two entries as a clean end, which
// would let a truncated layer pass for a shorter one.
//
// Only blocks read by tar.Reader.Next count. Entry data is read between
// calls to Next (inData), so a file whose data ends in zero blocks does not
// look like a marker.
type tarStream struct {
	r      io.Reader
	inData bool // reads now are entry data
	off    int  // bytes read so far of the current 512-byte block
	clean  bool // the current block is zeros read outside entry data so far
	zeros  int  // consecutive complete clean blocks
}

func (s *tarStream) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.track(p[:n])
	return n, err
}

func (s *tarStream) track(b []byte) {
	if s.inData {
		// Data dirties every block it touches; only the position matters.
		if len(b) > 0 {
			s.zeros = 0
			s.clean = false
			s.off = (s.off + len(b)) % blockSize
		}
		return
	}
	for len(b) > 0 {
		if s.off == 0 {
			s.clean = true
		}
		k := min(len(b), blockSize-s.off)
		if s.clean && !bytes.Equal(b[:k], zeroBlock[:k]) {
			s.clean = false
		}
		s.off += k
		b = b[k:]
		if s.off == blockSize {
			s.off = 0
			if s.clean {
				s.zeros++
			} else {
				s.zeros = 0
			}
		}
	}
}

// sawEnd reports whether the tar reader's last reads were an end marker.
// One zero block is enough, as for GNU tar.
func (s *tarStream) sawEnd() bool {
	return s.zeros > 0 && s.off == 0
}
