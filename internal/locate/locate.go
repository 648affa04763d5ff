// Package locate says where box's files are by default: its configuration
// files and its store. It imports no more than the standard library and
// x/sys, so that box shell's quick enter (package cli/quick), which runs
// in an initialiser before most of box's packages initialise, can find
// the store; package config and package image initialise late.
package locate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// ContainersDir is where the containers of the store at root live (package
// run's Containers), one directory per container.
func ContainersDir(root string) string { return filepath.Join(root, "containers") }

// NetworksDir is where the store at root keeps its user-defined networks
// (package network's Store).
func NetworksDir(root string) string { return filepath.Join(root, "networks") }

// ShellsDir is where the store at root keeps box shell's records (package
// shell's Store), one directory per shell.
func ShellsDir(root string) string { return filepath.Join(root, "shells") }

// SystemConfig is the system-wide configuration file.
const SystemConfig = "/etc/box/config.toml"

// ConfigFiles are the files box's configuration is read from when no file
// is named (--config, BOX_CONFIG), lowest precedence first: system, the
// system-wide file, then the user's. The user's is left out when no home
// directory can be found.
func ConfigFiles(system string) []string {
	paths := []string{system}
	dir := os.Getenv("XDG_CONFIG_HOME")
	// The XDG spec says relative values are invalid and must be ignored.
	if dir == "" || !filepath.IsAbs(dir) {
		home, err := Home()
		if err != nil {
			return paths
		}
		dir = filepath.Join(home, ".config")
	}
	return append(paths, filepath.Join(dir, "box", "config.toml"))
}

// Home is the caller's home directory: $HOME, else (a Slurm job started
// with --export=NONE, a cron job) the home of the caller's passwd entry.
func Home() (string, error) {
	if h := os.Getenv("HOME"); h != "" {
		return h, nil
	}
	if u, err := user.Current(); err == nil && u.HomeDir != "" && filepath.IsAbs(u.HomeDir) {
		return u.HomeDir, nil
	}
	return "", errors.New("$HOME is not set and the passwd entry names no home (srun --export=NONE clears the environment: pass --export=HOME or set it)")
}

// DefaultStore is $XDG_DATA_HOME/box, unless that is on a network or FUSE
// filesystem, where overlay upper dirs and user xattrs do not work: then
// /var/tmp/$USER/box on local disk (node-local: each node of a cluster
// has its own), and note says why.
func DefaultStore() (root, note string, err error) {
	data := os.Getenv("XDG_DATA_HOME")
	if data == "" {
		home, err := Home()
		if err != nil {
			return "", "", fmt.Errorf("finding the store: %w; or set --root or BOX_ROOT", err)
		}
		data = filepath.Join(home, ".local", "share")
	}
	root = filepath.Join(data, "box")
	if fs, remote := FSType(root); remote {
		parent := filepath.Join("/var/tmp", userName())
		if err := PrivateDir(parent); err != nil {
			return "", "", fmt.Errorf("%s is on %s, where overlay cannot keep container files, and %w: set [storage] root", root, fs, err)
		}
		local := filepath.Join(parent, "box")
		return local, fmt.Sprintf("%s is on %s, where overlay cannot keep container files; using %s on this node's disk (set [storage] root to choose)", root, fs, local), nil
	}
	return root, "", nil
}

// PrivateDir makes dir with mode 0700 unless it exists, and refuses one
// that is not the caller's alone: a symlink or not a directory, another
// user's, or one that others may write to. In a directory anyone may
// write to (/var/tmp) another user can make the path first; a store in
// it would run their files as the caller.
func PrivateDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("making %s: %w", dir, err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fmt.Errorf("checking %s: %w", dir, err)
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return fmt.Errorf("%s is not a directory of yours (a symlink or another file)", dir)
	case st.Uid != uint32(os.Geteuid()):
		return fmt.Errorf("%s belongs to uid %d, not to you", dir, st.Uid)
	case st.Mode&0o022 != 0:
		return fmt.Errorf("%s can be written by other users (mode %04o)", dir, st.Mode&0o7777)
	}
	return nil
}

// fsMagic names the filesystems box meets; remote marks those that cannot hold
// overlay upper dirs (NFS, Lustre, GPFS, other FUSE).
var fsMagic = map[int64]struct {
	name   string
	remote bool
}{
	0xEF53:     {"ext4", false},
	0x58465342: {"xfs", false},
	0x9123683E: {"btrfs", false},
	0x01021994: {"tmpfs", false},
	0x794c7630: {"overlayfs", false},
	0x2FC12FC1: {"zfs", false},
	0xF2F52010: {"f2fs", false},
	0x6969:     {"nfs", true},
	0x0BD00BD0: {"lustre", true},
	0x47504653: {"gpfs", true},
	0x65735546: {"fuse", true},
	0xFF534D42: {"cifs", true},
	0x5346414F: {"afs", true},
	0x00C36400: {"ceph", true},
	0x013111A8: {"ibrix", true},
	0x19830326: {"fhgfs", true},
}

// FSType names the filesystem holding path (or its nearest existing parent)
// and whether it is a network/FUSE filesystem.
func FSType(path string) (name string, remote bool) {
	for p := path; ; p = filepath.Dir(p) {
		var st unix.Statfs_t
		if err := unix.Statfs(p, &st); err == nil {
			if fs, ok := fsMagic[int64(st.Type)]; ok {
				return fs.name, fs.remote
			}
			return fmt.Sprintf("filesystem 0x%x", st.Type), false
		}
		if p == "/" || p == "." {
			return "unknown", false
		}
	}
}

func userName() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return strconv.Itoa(os.Getuid())
}
