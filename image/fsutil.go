package image

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// writeFileAtomic replaces path with data: temp file, fsync, rename, fsync
// of the directory, so a reader sees the old or the new content, never a torn one.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename or create in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return &os.PathError{Op: "fsync", Path: dir, Err: err}
	}
	return nil
}

// syncFS flushes the whole filesystem holding path: one syncfs(2) instead of
// an fsync per file of a freshly unpacked layer.
func syncFS(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	if err := unix.Syncfs(fd); err != nil {
		return &os.PathError{Op: "syncfs", Path: path, Err: err}
	}
	return nil
}

// fileLock is an flock(2) on a file; the kernel drops it when the holder dies,
// which is what makes staging of a killed pull reclaimable.
type fileLock struct {
	f      *os.File
	shared bool // lockFileCtx settled for a shared lock
}

// lockFile takes an exclusive lock on path, creating it, waiting if needed.
func lockFile(path string) (*fileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, &os.PathError{Op: "flock", Path: path, Err: err}
	}
	return &fileLock{f: f}, nil
}

// lockFileCtx is lockFile that gives up when ctx is done (^C while another
// process fetches the same layer). waiting is called once if it must wait.
//
// settle, if set, is asked while waiting for an exclusive lock; once it
// says so, a shared lock will do (a layer another pull has just stored,
// which that pull holds shared until its own image is recorded).
func lockFileCtx(ctx context.Context, path string, how int, waiting func(), settle ...func() bool) (*fileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for i := 0; ; i++ {
		err = unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if err == nil {
			return &fileLock{f: f, shared: how == unix.LOCK_SH}, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, &os.PathError{Op: "flock", Path: path, Err: err}
		}
		if i == 0 && waiting != nil {
			waiting()
		}
		if how == unix.LOCK_EX && len(settle) > 0 && settle[0]() {
			how = unix.LOCK_SH
			continue
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// tryLockFile is lockFile without waiting, for a file that exists; ok is
// false if another holds it.
func tryLockFile(path string) (l *fileLock, ok bool, err error) {
	return tryLock(path, 0)
}

// tryLockNew is tryLockFile that creates the file: a layer's lock must
// exist while it is held, or a process coming next would lock a file of
// its own.
func tryLockNew(path string) (l *fileLock, ok bool, err error) {
	return tryLock(path, os.O_CREATE)
}

func tryLock(path string, flag int) (l *fileLock, ok bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|flag, 0o600)
	if err != nil {
		return nil, false, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, &os.PathError{Op: "flock", Path: path, Err: err}
	}
	return &fileLock{f: f}, true, nil
}

func (l *fileLock) unlock() {
	if l != nil && l.f != nil {
		l.f.Close() // closing the last fd drops the flock
		l.f = nil
	}
}
