//go:build linux

package extract

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBrokenStreams(t *testing.T) {
	good := layer(t, reg("a", strings.Repeat("a", 2000), 0o644), reg("b", "b", 0o644))
	zeroFile := layer(t, reg("z", strings.Repeat("\x00", 1024), 0o644))
	garbage := bytes.Repeat([]byte("garbage!"), 200)
	tests := []struct {
		name string
		data []byte
		is   error
	}{
		{"truncated in data", good[:1000], io.ErrUnexpectedEOF},
		{"truncated in header", good[:512*6+100], io.ErrUnexpectedEOF},
		{"truncated between entries", good[:512*5], io.ErrUnexpectedEOF},
		{"truncated after data", good[:512*7], io.ErrUnexpectedEOF},
		{"truncated after zero data", zeroFile[:512*3], io.ErrUnexpectedEOF},
		{"empty", nil, io.ErrUnexpectedEOF},
		{"garbage", garbage, tar.ErrHeader},
		{"garbage after entry", append(good[:512*5:512*5], garbage...), tar.ErrHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Extract(newRoot(t), bytes.NewReader(tt.data))
			if err == nil || !strings.HasPrefix(err.Error(), "reading layer: ") || !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want reading layer: ... wrapping %v", err, tt.is)
			}
		})
	}
}

type countingReader struct {
	r   io.Reader
	n   int
	eof bool
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	c.eof = c.eof || err == io.EOF
	return n, err
}

func TestDrainsTrailingBytes(t *testing.T) {
	data := append(layer(t, reg("f", "f", 0o644)), bytes.Repeat([]byte{0, 1, 2}, 100000)...)
	cr := &countingReader{r: bytes.NewReader(data)}
	if _, err := Extract(newRoot(t), cr); err != nil {
		t.Fatal(err)
	}
	if cr.n != len(data) || !cr.eof {
		t.Errorf("read %d of %d bytes (eof %v)", cr.n, len(data), cr.eof)
	}
}

// benchLayer is shaped like a distribution base layer: 10,000 small files
// of 100 B to 8 KiB in 100 directories.
func benchLayer(tb testing.TB) []byte {
	var ents []ent
	for d := range 100 {
		ents = append(ents, dir(fmt.Sprintf("usr/d%02d/", d), 0o755))
		for f := range 100 {
			size := 100 + (d*100+f)*7919%8092
			ents = append(ents, reg(fmt.Sprintf("usr/d%02d/file%03d", d, f), strings.Repeat("x", size), 0o644))
		}
	}
	return layer(tb, append([]ent{dir("usr/", 0o755)}, ents...)...)
}

func BenchmarkExtract(b *testing.B) {
	data := benchLayer(b)
	base := b.TempDir()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		root := filepath.Join(base, fmt.Sprint(i))
		if err := os.Mkdir(root, 0o755); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		res, err := Extract(root, bytes.NewReader(data))
		if err != nil || res.Files != 10101 {
			b.Fatalf("Extract = %+v, %v", res, err)
		}
		b.StopTimer()
		os.RemoveAll(root)
		b.StartTimer()
	}
}
