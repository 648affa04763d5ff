package main

import (
	"io/fs"
	"syscall"
)

// blocks is the disk a file takes (st_blocks), not its length: sparse files
// and hard links are counted as du does, roughly.
func blocks(fi fs.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}
