package build

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

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
	file bool // a single file, mounted as one
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
	case instructions.NetworkNone, instructions.NetworkHost:
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
		if m.Target != "" && !path.IsAbs(m.Target) {
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
			src := m.Source
			if src == "" {
				src = "."
			}
			from := m.From
			job, key, err := b.copyJobIn(b.Context, st, []string{src}, "/", from, "", "")
			if err != nil {
				return nil, fmt.Errorf("RUN --mount=type=bind,source=%s: %w", src, err)
			}
			job.Base = nil // copied into a directory of its own
			file, err := b.isFile(job, src)
			if err != nil {
				return nil, fmt.Errorf("RUN --mount=type=bind,source=%s: %w", src, err)
			}
			p.binds[i] = &bindSource{job: job, file: file}
			p.key += fmt.Sprintf("\nbind %q %v %s", m.Target, m.ReadOnly, key)
		case instructions.MountTypeCache:
			if m.From != "" {
				return nil, errors.New("RUN --mount=type=cache,from= is not supported by box build yet")
			}
			p.key += fmt.Sprintf("\ncache %q", m.Target)
		case instructions.MountTypeTmpfs:
			p.key += fmt.Sprintf("\ntmpfs %q", m.Target)
		case instructions.MountTypeSecret:
			if m.CacheID == "" && m.Target == "" && m.Env == nil {
				return nil, errors.New("RUN --mount=type=secret needs an id or a target")
			}
			if m.CacheID == "" {
				m.CacheID = path.Base(m.Target)
			}
			if m.Target == "" && m.Env == nil {
				m.Target = "/run/secrets/" + m.CacheID
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
			ssh++
			if _, ok := b.SSH[m.CacheID]; !ok && m.Required {
				return nil, fmt.Errorf("RUN --mount=type=ssh: ssh agent %s is required: give box build --ssh %s (or %s=SOCKET)", m.CacheID, m.CacheID, m.CacheID)
			}
		}
	}
	return p, nil
}

// isFile tells whether a bind mount's source is one file (mounted as a
// file) rather than a directory.
func (b *builder) isFile(job *stage.CopyJob, src string) (bool, error) {
	rel := strings.Trim(path.Clean("/"+src), "/")
	if rel == "" {
		return false, nil
	}
	var fi fs.FileInfo
	if len(job.Lower) > 0 {
		info, ok := overlaydir.Lookup(job.Lower, rel)
		if !ok {
			return false, fmt.Errorf("%s not found", src)
		}
		fi = info
	} else {
		var err error
		if fi, err = os.Stat(filepath.Join(job.Root, rel)); err != nil {
			return false, err
		}
	}
	return !fi.IsDir(), nil
}

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
				src = filepath.Join(job.Out, path.Base(path.Clean("/"+m.Source)))
			}
			if err := vol(src, m.ReadOnly); err != nil {
				return nil, err
			}
		case instructions.MountTypeCache:
			id := m.CacheID
			if id == "" {
				id = m.Target
			}
			cdir, err := b.Store.CacheMount(id)
			if err != nil {
				return nil, fmt.Errorf("RUN --mount=type=cache: %w", err)
			}
			lock, err := os.OpenFile(cdir+".lock", os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
			if err != nil {
				return nil, fmt.Errorf("RUN --mount=type=cache: %w", err)
			}
			rm.release = append(rm.release, func() { lock.Close() })
			how := unix.LOCK_SH // shared, the default: any number of RUNs
			if m.CacheSharing == instructions.MountSharingLocked || m.CacheSharing == instructions.MountSharingPrivate {
				how = unix.LOCK_EX // one RUN at a time
			}
			for unix.Flock(int(lock.Fd()), how) == unix.EINTR {
			}
			mode := fs.FileMode(0o755)
			if m.Mode != nil {
				mode = fs.FileMode(*m.Mode & 0o7777)
			}
			if err := os.Mkdir(cdir, mode); err == nil {
				os.Chmod(cdir, mode) // past the umask
				uid, gid := ids(m)
				if err := stage.Chowner(b.Mapping)(cdir, uid, gid); err != nil {
					os.Remove(cdir) // made again, and given, by the next build
					return nil, fmt.Errorf("RUN --mount=type=cache,uid=%d,gid=%d: %w", uid, gid, err)
				}
			} else if !errors.Is(err, fs.ErrExist) {
				return nil, fmt.Errorf("RUN --mount=type=cache: %w", err)
			}
			if err := vol(cdir, m.ReadOnly); err != nil {
				return nil, err
			}
		case instructions.MountTypeTmpfs:
			t := m.Target
			if m.SizeLimit > 0 {
				t += ":size=" + strconv.FormatInt(m.SizeLimit, 10)
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

// ParseSecrets reads box build --secret: id=ID with src=FILE (or
// source=), env=VAR, or neither (the variable ID), as docker's;
// type=file|env says which a bare value is.
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
		if src == "" && env == "" {
			if typ == "file" {
				src = id
			} else {
				env = id
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
