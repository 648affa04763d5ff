package splice

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestFrames(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 65535)
	var stream []byte
	for _, d := range [][]byte{[]byte("one"), {}, big} {
		stream = AppendFrame(stream, d)
	}
	buf := make([]byte, FrameHeader+5)
	copy(buf[FrameHeader:], "five!")
	stream = append(stream, Frame(buf, 5)...)

	f := NewFrameReader(bytes.NewReader(stream))
	for _, want := range []string{"one", "", string(big), "five!"} {
		b, err := f.Next()
		if err != nil || string(b) != want {
			t.Fatalf("Next = %d bytes, %v; want %d bytes", len(b), err, len(want))
		}
	}
	if _, err := f.Next(); err != io.EOF {
		t.Errorf("at the end: %v, want io.EOF", err)
	}
	// A frame cut short, in its header or its datagram, is an error of
	// its own, not a clean end.
	for _, cut := range []string{"\x00", "\x00\x05ab"} {
		_, err := NewFrameReader(strings.NewReader(cut)).Next()
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%q: %v, want io.ErrUnexpectedEOF", cut, err)
		}
	}
}
