package files

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"fmt"
	"io"
	"os"

	"github.com/box-run/box/image/extract"
)

// Archive kinds ADD unpacks, by their first bytes.
var (
	gzipMagic  = []byte{0x1f, 0x8b}
	bzip2Magic = []byte("BZh")
	xzMagic    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	zstdMagic  = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// IsArchive tells whether the file at p is a tar archive ADD unpacks:
// plain, gzip or bzip2 (xz and zstd are recognised, to be refused).
func IsArchive(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	for _, m := range [][]byte{gzipMagic, bzip2Magic, xzMagic, zstdMagic} {
		if bytes.HasPrefix(head, m) {
			return true
		}
	}
	return n >= 262 && string(head[257:262]) == "ustar"
}

// unpack extracts the archive at p into dir, as a layer is extracted
// (confined to dir, owners kept where they map).
func unpack(p, dir string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	head, _ := br.Peek(6)
	var r io.Reader = br
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("unpacking %s: %w", p, err)
		}
		defer zr.Close()
		r = zr
	case bytes.HasPrefix(head, bzip2Magic):
		r = bzip2.NewReader(br)
	case bytes.HasPrefix(head, xzMagic), bytes.HasPrefix(head, zstdMagic):
		return fmt.Errorf("unpacking %s: xz and zstd archives are not supported by box build yet", p)
	}
	if _, err := extract.Extract(dir, r); err != nil {
		return fmt.Errorf("unpacking %s: %w", p, err)
	}
	return nil
}
