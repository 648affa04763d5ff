package build

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/box-run/box/internal/overlaydir"
	"github.com/box-run/box/stage"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"golang.org/x/sys/unix"
)

// RUN's flags as buildkit's: --network, and --mount of the five types.
//
//   - bind: files of the context, of a stage or of an image (from=), read
//     only unless rw (whose writes are thrown away). They are copied, as
//     COPY copies them (.dockerignore holds), into a directory of the
//     build that the RUN container mounts; like COPY's, their digest is
//     part of the step's cache key.
//   - cache: a directory of the store kept between builds (until box
//     builder prune), by id (default: the target). sharing=shared, the
//     default, lets any number of RUNs use it at once; locked, and
//     private, which box does not tell apart from it, one at a time.
//   - tmpfs: a tmpfs.
//   - secret: box build --secret's value, as a file (default
//     /run/secrets/ID) or an environment variable (env=); never in the
//     image nor the cache key.
//   - ssh: an ssh agent's socket of box build --ssh, with SSH_AUTH_SOCK.
//
// A mount's target that the image lacks is made for the RUN and taken
// out of the step's layer after it (stripStubs), as buildkit does.

// runPlan is what a RUN's flags ask for, read before its cache lookup.
type runPlan struct {
	network string
	mounts  []*instructions.Mount
	binds   map[int]*bindSource // by mounts' index
	key     string              // what the flags add to the step's cache key
}

// bindSource is a bind mount's files, to be copied.
type bindSource struct {
	job  *stage.CopyJob
	file bool   // a single file, mounted as one
	name string // its name in the copy
}

// defaultSSHTarget is buildkit's socket path of the nth ssh mount.
func defaultSSHTarget(n int) string { return "/run/buildkit/ssh_agent." + strconv.Itoa(n) }

// planRun reads r's --network and --mount flags, expanded with the
// stage's build args and environment.
func (b *builder) planRun(st *state, r *instructions.RunCommand, expand func(string) (string, error)) (*runPlan, error) {
	p := &runPlan{network: b.Network, binds: map[int]*bindSource{}}
	for _, f := range r.FlagsUsed {
		if f != "mount" && f != "network" {
			return nil, fmt.Errorf("RUN --%s is not supported by box build yet", f)
		}
	}
	switch n := instructions.GetNetwork(r); n {
	case "", instructions.NetworkDefault:
	case instructions.NetworkNone:
		p.network = string(n)
	case instructions.NetworkHost:
		// The host's loopback services, which the default network
		// keeps out: only when the caller allows it, as buildkit's
		// network.host entitlement.
		if !b.AllowNetworkHost {
			return nil, errors.New("RUN --network=host needs box build --allow network.host")
		}
		p.network = string(n)
	default:
		return nil, fmt.Errorf("RUN --network=%s: want default, none or host", n)
	}
	if p.network == "" {
		p.network = "slirp"
	}
	p.key = "\nnetwork " + p.network
	if err := r.Expand(expand); err != nil {
		return nil, err
	}
	p.mounts = instructions.GetMounts(r)
	ssh := 0
	for i, m := range p.mounts {
		if m.Target == "" && m.Type != instructions.MountTypeSecret && m.Type != instructions.MountTypeSSH {
			return nil, fmt.Errorf("RUN --mount=type=%s needs a target", m.Type)
		}
		if m.Type == instructions.MountTypeCache && m.CacheID == "" {
			m.CacheID = path.Clean(m.Target) // buildkit's default id: the target as written
		}
		if m.Target != "" && !path.IsAbs(m.Target) && m.Type != instructions.MountTypeSecret && m.Type != instructions.MountTypeSSH {
			wd := st.cfg.Config.WorkingDir
			if wd == "" {
				wd = "/"
			}
			m.Target = path.Join(wd, m.Target)
		}
		if (m.UID != nil && *m.UID != 0 || m.GID != nil && *m.GID != 0) && m.Type == instructions.MountTypeSSH {
			return nil, fmt.Errorf("RUN --mount=type=%s with a uid or gid other than 0 is not supported by box build yet", m.Type)
		}
		switch m.Type {
		case instructions.MountTypeBind:
			bs, key, err := b.bindSource(st, m)
			if err != nil {
				return nil, fmt.Errorf("RUN --mount=type=bind,source=%s: %w", m.Source, err)
			}
			p.binds[i] = bs
			p.key += fmt.Sprintf("\nbind %q %v %s", m.Target, m.ReadOnly, key)
		case instructions.MountTypeCache:
			if m.From != "" {
				return nil, errors.New("RUN --mount=type=cache,from= is not supported by box build yet")
			}
			p.key += fmt.Sprintf("\ncache %q", m.Target)
		case instructions.MountTypeTmpfs:
			p.key += fmt.Sprintf("\ntmpfs %q", m.Target)
		case instructions.MountTypeSecret:
			if m.Source != "" {
				m.CacheID = m.Source // buildkit's: source names the secret
			}
			if m.CacheID == "" && m.Target == "" {
				return nil, errors.New("RUN --mount=type=secret needs an id or a target")
			}
			if m.CacheID == "" {
				m.CacheID = path.Base(m.Target)
			}
			if m.Target == "" && m.Env == nil {
				m.Target = "/run/secrets/" + path.Base(m.CacheID)
			}
			if m.Target != "" {
				m.Target = path.Join("/", m.Target)
			}
			if m.Env != nil && (*m.Env == "" || strings.ContainsAny(*m.Env, "=\x00")) {
				return nil, fmt.Errorf("RUN --mount=type=secret,env=%q: not a variable's name", *m.Env)
			}
			if _, ok := b.Secrets[m.CacheID]; !ok && m.Required {
				return nil, fmt.Errorf("RUN --mount=type=secret: secret %s is required: give box build --secret id=%s,src=FILE (or env=VAR)", m.CacheID, m.CacheID)
			}
		case instructions.MountTypeSSH:
			if m.CacheID == "" {
				m.CacheID = "default"
			}
			if m.Target == "" {
				m.Target = defaultSSHTarget(ssh)
			}
			m.Target = path.Join("/", m.Target)
			ssh++
			if _, ok := b.SSH[m.CacheID]; !ok && m.Required {
				return nil, fmt.Errorf("RUN --mount=type=ssh: ssh agent %s is required: give box build --ssh %s (or %s=SOCKET)", m.CacheID, m.CacheID, m.CacheID)
			}
		}
	}
	return p, nil
}

// bindSource is what a bind mount copies: its source resolved inside its
// root (the context, or the files of the stage or image from= names),
// every symlink on the way followed there and never on the host, so that
// what is mounted is a file or directory of the copy, not a link out.
func (b *builder) bindSource(st *state, m *instructions.Mount) (*bindSource, string, error) {
	src := m.Source
	if src == "" {
		src = "."
	}
	var lower []string
	if m.From != "" {
		var err error
		if lower, _, err = b.fromLayers(m.From); err != nil {
			return nil, "", err
		}
	}
	rel, fi, err := resolveIn(src, lower, b.Context)
	if err != nil {
		return nil, "", err
	}
	job, key, err := b.copyJobIn(b.Context, st, []string{"/" + rel}, "/", m.From, "", "")
	if err != nil {
		return nil, "", err
	}
	job.Base = nil // copied into a directory of its own
	return &bindSource{job: job, file: !fi.IsDir(), name: path.Base("/" + rel)}, key, nil
}

// resolveIn resolves rel inside a root, following its symlinks as they
// would be followed with that root as /: in layers (bottom first, the
// top one that has a path wins), or else in the directory root. It
// returns the path without symlinks, relative to the root, and what is
// there.
func resolveIn(rel string, layers []string, root string) (string, fs.FileInfo, error) {
	lookup := func(p string) (fs.FileInfo, string, error) {
		if len(layers) == 0 {
			fi, err := os.Lstat(filepath.Join(root, p))
			return fi, filepath.Join(root, p), err
		}
		fi, ok := overlaydir.Lookup(layers, p)
		if !ok {
			return nil, "", fmt.Errorf("%s: %w", p, fs.ErrNotExist)
		}
		for i := len(layers) - 1; i >= 0; i-- {
			if _, err := os.Lstat(filepath.Join(layers[i], p)); err == nil {
				return fi, filepath.Join(layers[i], p), nil
			}
		}
		return fi, "", nil
	}
	parts := strings.Split(rel, "/")
	cur := ""
	links := 0
	for len(parts) > 0 {
		part := parts[0]
		parts = parts[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			cur = strings.TrimPrefix(path.Dir("/"+cur), "/")
			continue
		}
		next := path.Join(cur, part)
		fi, host, err := lookup(next)
		if err != nil {
			return "", nil, fmt.Errorf("%s not found", rel)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if links++; links > 40 {
			return "", nil, fmt.Errorf("%s: too many symlinks", rel)
		}
		target, err := os.Readlink(host)
		if err != nil {
			return "", nil, err
		}
		if path.IsAbs(target) {
			cur = ""
		}
		parts = append(strings.Split(target, "/"), parts...)
	}
	if cur == "" {
		if len(layers) == 0 {
			fi, err := os.Stat(root)
			return "", fi, err
		}
		return "", dirInfo{}, nil
	}
	fi, _, err := lookup(cur)
	return cur, fi, err
}

// dirInfo is the root of a stage's files: a directory.
type dirInfo struct{ fs.FileInfo }

func (dirInfo) IsDir() bool { return true }

// runMounts are a RUN container's mounts, made ready.
type runMounts struct {
	volumes, tmpfs, env []string
	targets             []string // to strip from the layer when they were made for the RUN
	release             []func()
}

func (rm *runMounts) done() {
	for i := len(rm.release) - 1; i >= 0; i-- {
		rm.release[i]()
	}
}

// prepare makes p's mounts ready in dir, a directory of the build's: the
// bind mounts' files copied, the cache mounts locked, the secrets
// written. done releases them (dir is the caller's to remove).
func (b *builder) prepare(p *runPlan, dir string) (*runMounts, error) {
	rm := &runMounts{}
	ok := false
	defer func() {
		if !ok {
			rm.done()
		}
	}()
	caches, err := b.lockCaches(p.mounts, rm)
	if err != nil {
		return nil, err
	}
	sshEnv := false
	for i, m := range p.mounts {
		vol := func(src string, ro bool) error {
			if strings.ContainsAny(src, ":,") || strings.ContainsAny(m.Target, ":,") {
				return fmt.Errorf("RUN --mount target %s or its source %s has a ':' or ',', which box cannot mount", m.Target, src)
			}
			v := src + ":" + m.Target
			if ro {
				v += ":ro"
			}
			rm.volumes = append(rm.volumes, v)
			rm.targets = append(rm.targets, m.Target)
			return nil
		}
		switch m.Type {
		case instructions.MountTypeBind:
			bs := p.binds[i]
			out := filepath.Join(dir, "bind"+strconv.Itoa(i))
			job := *bs.job
			job.Out, job.Mnt = filepath.Join(out, "files"), filepath.Join(out, "mnt")
			for _, d := range []string{out, job.Out, job.Mnt} {
				if err := os.Mkdir(d, 0o755); err != nil {
					return nil, err
				}
			}
			if len(job.Lower) > 0 {
				release, err := b.Store.HoldLayers(diffIDsOfDirs(job.Lower))
				if err != nil {
					return nil, err
				}
				rm.release = append(rm.release, release)
			}
			if err := stage.Copier(b.Mapping)(job); err != nil {
				return nil, fmt.Errorf("RUN --mount=type=bind: copying its files: %w", err)
			}
			src := job.Out
			if bs.file {
				src = filepath.Join(job.Out, bs.name)
			}
			// Never a symlink, which mounting would follow on the host.
			if fi, err := os.Lstat(src); err != nil || fi.Mode()&fs.ModeSymlink != 0 {
				return nil, fmt.Errorf("RUN --mount=type=bind,source=%s: the copy of the source is no file or directory", m.Source)
			}
			if err := vol(src, m.ReadOnly); err != nil {
				return nil, err
			}
		case instructions.MountTypeCache:
			cdir := caches[m.CacheID]
			if err := vol(cdir, m.ReadOnly); err != nil {
				return nil, err
			}
		case instructions.MountTypeTmpfs:
			// buildkit's tmpfs: nosuid only (exec and dev, unlike
			// --tmpfs's default), read-only if asked.
			t := m.Target + ":exec,dev"
			if m.ReadOnly {
				t += ",ro"
			}
			if m.SizeLimit > 0 {
				t += ",size=" + strconv.FormatInt(m.SizeLimit, 10)
			}
			rm.tmpfs = append(rm.tmpfs, t)
			rm.targets = append(rm.targets, m.Target)
		case instructions.MountTypeSecret:
			value, ok := b.Secrets[m.CacheID]
			if !ok {
				continue // not required: no mount, as buildkit's
			}
			if m.Env != nil {
				rm.env = append(rm.env, *m.Env+"="+string(value))
			}
			if m.Target == "" {
				continue
			}
			sdir := filepath.Join(dir, "secret"+strconv.Itoa(i))
			if err := os.Mkdir(sdir, 0o700); err != nil {
				return nil, err
			}
			mode := fs.FileMode(0o400)
			if m.Mode != nil {
				mode = fs.FileMode(*m.Mode & 0o777)
			}
			f := filepath.Join(sdir, "secret")
			if err := os.WriteFile(f, value, 0o600); err != nil {
				return nil, err
			}
			os.Chmod(f, mode)
			uid, gid := ids(m)
			if err := stage.Chowner(b.Mapping)(f, uid, gid); err != nil {
				return nil, fmt.Errorf("RUN --mount=type=secret,uid=%d,gid=%d: %w", uid, gid, err)
			}
			if err := vol(f, true); err != nil {
				return nil, err
			}
		case instructions.MountTypeSSH:
			sock, ok := b.SSH[m.CacheID]
			if !ok {
				continue
			}
			if err := vol(sock, false); err != nil {
				return nil, err
			}
			if !sshEnv {
				rm.env = append(rm.env, "SSH_AUTH_SOCK="+m.Target)
				sshEnv = true
			}
		}
	}
	ok = true
	return rm, nil
}

// ids are a mount's uid and gid, 0 where not given.
func ids(m *instructions.Mount) (uid, gid int) {
	if m.UID != nil {
		uid = int(*m.UID)
	}
	if m.GID != nil {
		gid = int(*m.GID)
	}
	return uid, gid
}

// lockCaches locks the cache mounts' directories, making those that do
// not exist yet, and returns them by id. Each id is locked once, in the
// order of the ids (so that two builds never wait for each other), shared
// unless a mount of it asks for sharing=locked or private. A directory is
// made, given its mode and owner, under the exclusive lock, which is then
// turned into the one asked for. The locks go with rm's release.
func (b *builder) lockCaches(mounts []*instructions.Mount, rm *runMounts) (map[string]string, error) {
	exclusive := map[string]bool{}
	first := map[string]*instructions.Mount{} // whose mode, uid and gid make it
	for _, m := range mounts {
		if m.Type != instructions.MountTypeCache {
			continue
		}
		if first[m.CacheID] == nil {
			first[m.CacheID] = m
		}
		exclusive[m.CacheID] = exclusive[m.CacheID] || m.CacheSharing == instructions.MountSharingLocked || m.CacheSharing == instructions.MountSharingPrivate
	}
	ids := make([]string, 0, len(first))
	for id := range first {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	dirs := map[string]string{}
	for _, id := range ids {
		m := first[id]
		cdir, err := b.Store.CacheMount(id)
		if err != nil {
			return nil, fmt.Errorf("RUN --mount=type=cache,id=%s: %w", id, err)
		}
		lock, err := os.OpenFile(cdir+".lock", os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return nil, fmt.Errorf("RUN --mount=type=cache,id=%s: %w", id, err)
		}
		rm.release = append(rm.release, func() { lock.Close() })
		how := unix.LOCK_SH
		if exclusive[id] {
			how = unix.LOCK_EX
		}
		if _, err := os.Lstat(cdir); err != nil {
			how = unix.LOCK_EX // to make it
		}
		if err := b.flockWait(lock, how, id); err != nil {
			return nil, err
		}
		if how == unix.LOCK_EX {
			if err := b.makeCache(cdir, m); err != nil {
				return nil, err
			}
			if !exclusive[id] {
				if err := b.flockWait(lock, unix.LOCK_SH, id); err != nil {
					return nil, err
				}
			}
		}
		dirs[id] = cdir
	}
	return dirs, nil
}

// makeCache makes a cache mount's directory, unless it exists, with the
// mode, uid and gid of the mount m (default 0755, 0, 0). The caller holds
// its lock exclusively.
func (b *builder) makeCache(cdir string, m *instructions.Mount) error {
	mode := fs.FileMode(0o755)
	if m.Mode != nil {
		mode = fs.FileMode(*m.Mode & 0o7777)
	}
	err := os.Mkdir(cdir, mode)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("RUN --mount=type=cache,id=%s: %w", m.CacheID, err)
	}
	os.Chmod(cdir, mode) // past the umask
	uid, gid := ids(m)
	if err := stage.Chowner(b.Mapping)(cdir, uid, gid); err != nil {
		os.Remove(cdir) // made again, and given, by the next build
		return fmt.Errorf("RUN --mount=type=cache,uid=%d,gid=%d: %w", uid, gid, err)
	}
	return nil
}

// flockWait takes lock (how: LOCK_SH or LOCK_EX), saying once that it
// waits for another build, and gives up when the build is cancelled.
func (b *builder) flockWait(lock *os.File, how int, id string) error {
	said := false
	for {
		err := unix.Flock(int(lock.Fd()), how|unix.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case err == unix.EINTR:
			continue
		case err != unix.EWOULDBLOCK:
			return fmt.Errorf("RUN --mount=type=cache,id=%s: locking: %w", id, err)
		}
		if !said {
			fmt.Fprintf(b.Out, "--> waiting for the cache mount %s, which another build is using\n", id)
			said = true
		}
		select {
		case <-b.ctx.Done():
			return b.ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stripStubs removes from upper, a RUN's upper directory, the targets of
// its mounts that box made for it, and the parents made with them: each
// as long as the stage's layers (base) lack it and it is still empty (a
// directory, but for fuse-overlayfs's opaque marks) or an empty file.
// What the RUN wrote there went to the mount, not to the layer. A parent
// the base has, copied up only to hold them, goes too when it is empty
// in upper, not opaque and has the base's owner and mode.
func stripStubs(upper string, base, targets []string) {
	for _, t := range targets {
		for rel := strings.Trim(path.Clean(t), "/"); rel != "" && rel != "."; rel = path.Dir(rel) {
			p := filepath.Join(upper, rel)
			fi, err := os.Lstat(p)
			if err != nil {
				continue // not in the layer; a parent may be
			}
			bfi, had := overlaydir.Lookup(base, rel)
			var gone bool
			switch {
			case had:
				gone = fi.IsDir() && bfi.IsDir() && overlaydir.EmptyDir(p) && !overlaydir.Opaque(p) && overlaydir.SameOwnerMode(fi, bfi)
			case fi.IsDir():
				gone = overlaydir.OnlyMarks(p)
			default:
				gone = fi.Mode().IsRegular() && fi.Size() == 0
			}
			if !gone || os.RemoveAll(p) != nil || had {
				break
			}
		}
	}
}

// ParseSSH reads box build --ssh: default, ID, or ID=SOCKET; without a
// socket, $SSH_AUTH_SOCK's.
func ParseSSH(specs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, s := range specs {
		id, sock, _ := strings.Cut(s, "=")
		if id == "" {
			return nil, fmt.Errorf("invalid --ssh %q: want ID[=SOCKET]", s)
		}
		if sock == "" {
			sock = os.Getenv("SSH_AUTH_SOCK")
			if sock == "" {
				return nil, fmt.Errorf("--ssh %s: SSH_AUTH_SOCK is not set: start an ssh agent, or give --ssh %s=SOCKET", id, id)
			}
		}
		if strings.Contains(sock, ",") {
			return nil, fmt.Errorf("--ssh %s: only an agent's socket is supported by box build, not key files", id)
		}
		sock, err := filepath.Abs(sock) // a path, not a volume's name
		if err != nil {
			return nil, fmt.Errorf("--ssh %s: %w", id, err)
		}
		fi, err := os.Stat(sock)
		if err != nil {
			return nil, fmt.Errorf("--ssh %s: %w", id, err)
		}
		if fi.Mode()&fs.ModeSocket == 0 {
			return nil, fmt.Errorf("--ssh %s: %s is not an ssh agent's socket (key files are not supported by box build yet)", id, sock)
		}
		out[id] = sock
	}
	return out, nil
}

// ParseSecrets reads box build --secret as docker's: id=ID with
// src=FILE (or source=), or env=VAR; type=env makes src the variable's
// name; with neither, the variable ID if it is set, else the file ID.
func ParseSecrets(specs []string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, s := range specs {
		var id, src, env, typ string
		for _, f := range strings.Split(s, ",") {
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				return nil, fmt.Errorf("invalid --secret %q: want id=ID,src=FILE or id=ID,env=VAR", s)
			}
			switch strings.ToLower(k) {
			case "id":
				id = v
			case "src", "source":
				src = v
			case "env":
				env = v
			case "type":
				typ = v
			default:
				return nil, fmt.Errorf("invalid --secret %q: unknown key %s", s, k)
			}
		}
		if id == "" {
			return nil, fmt.Errorf("invalid --secret %q: it needs an id", s)
		}
		switch {
		case typ == "env" && env == "":
			env, src = src, ""
			if env == "" {
				env = id
			}
		case typ != "" && typ != "file" && typ != "env":
			return nil, fmt.Errorf("invalid --secret %q: type is file or env", s)
		case src == "" && env == "":
			if _, ok := os.LookupEnv(id); ok && typ != "file" {
				env = id
			} else {
				src = id
			}
		}
		if src != "" {
			b, err := os.ReadFile(src)
			if err != nil {
				return nil, fmt.Errorf("--secret %s: %w", id, err)
			}
			out[id] = b
			continue
		}
		v, ok := os.LookupEnv(env)
		if !ok {
			return nil, fmt.Errorf("--secret %s: the environment variable %s is not set", id, env)
		}
		out[id] = []byte(v)
	}
	return out, nil
}
