package cli

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/box-run/box/monitor"
	"github.com/box-run/box/run/cp"
	"github.com/box-run/box/run/pid1"
	"github.com/box-run/box/run/proto"
	"github.com/box-run/box/stage"
	units "github.com/docker/go-units"
	"golang.org/x/term"
)

type cpCmd struct {
	Archive    bool   `short:"a" help:"Copying into a container: keep the files' owners (uid and gid) instead of making them root's."`
	FollowLink bool   `short:"L" name:"follow-link" help:"Copy what a symlink given as the source points to, not the link."`
	Quiet      bool   `short:"q" help:"Do not print the amount copied (printed only to a terminal)."`
	Src        string `arg:"" name:"src" help:"CONTAINER:PATH, a host path, or - for a tar on stdin." placeholder:"SRC"`
	Dst        string `arg:"" name:"dst" help:"CONTAINER:PATH, a host path, or - for a tar on stdout." placeholder:"DST"`

	// serve is the container's side: its init's helper, or the cp stage.
	serve func(proto.CopyRequest, *os.File) (proto.ExecReply, error) `kong:"-"`
}

// Run copies between a container and the host, with docker cp's rules for
// where a path lands (package cp's Place). The container's side is a
// helper its init starts when it runs detached (pid1.Copy): paths resolve
// in its root, volumes included. A container that does not run has its
// root stacked by the cp stage, without its mounts. A path in the
// container that is not absolute is taken from its root, as docker's.
// Both sides may meet a hostile stream: package cp unpacks nothing
// outside the destination.
func (c *cpCmd) Run(g *globals) error {
	srcCt, srcPath := splitCpArg(c.Src)
	dstCt, dstPath := splitCpArg(c.Dst)
	switch {
	case srcCt == "" && dstCt == "":
		return withStatus(1, errors.New("one of the two paths must be in a container (CONTAINER:PATH)"))
	case srcCt != "" && dstCt != "":
		return withStatus(1, errors.New("copying between containers is not supported; copy through the host"))
	case srcCt != "" && srcPath == "" || dstCt != "" && dstPath == "":
		return withStatus(1, errors.New("the path in the container is empty (CONTAINER:PATH)"))
	}
	name := srcCt + dstCt
	cs, ct, err := g.container(name)
	if err != nil {
		return err
	}
	dir := cs.Dir(ct.ID)
	if ct.Paused {
		return withStatus(1, fmt.Errorf("container %s is paused, unpause the container first", ct.Name))
	}
	if ct.Status == "running" {
		if _, err := os.Stat(filepath.Join(dir, proto.ExecSocket)); err != nil {
			return withStatus(1, fmt.Errorf("container %s runs in the foreground without -t, --name, -p or --init: box cp cannot reach it (start it with one of those, or -d)", ct.Name))
		}
		c.serve = func(req proto.CopyRequest, f *os.File) (proto.ExecReply, error) { return pid1.Copy(dir, req, f) }
	} else {
		// Not running: the cp stage stacks its root as init would.
		mc, err := monitor.ReadConfig(dir)
		if err != nil {
			return withStatus(1, fmt.Errorf("container %s keeps no record of its layers (made by an older box?): %w", ct.Name, err))
		}
		m, err := g.idMapping()
		if err != nil {
			return withStatus(1, err)
		}
		sp := &mc.Spec
		job := stage.CpJob{Overlay: sp.Overlay, Layers: sp.Layers, Dir: dir, Squash: sp.Squash, OverlayCache: sp.OverlayCache}
		for _, mt := range sp.Mounts {
			job.Mounts = append(job.Mounts, path.Clean(mt.Target))
		}
		c.serve = func(req proto.CopyRequest, f *os.File) (proto.ExecReply, error) {
			job.Req = req
			return stage.CpStopped(m, job, f)
		}
	}
	var n int64
	var where string
	if srcCt != "" {
		if c.Archive && dstPath != "-" {
			return withStatus(1, errors.New("box cp -a keeps owners in a container; files copied to the host are yours"))
		}
		n, err = c.out(ctPath(srcPath), dstPath)
		where = dstPath
	} else {
		n, err = c.in(srcPath, ctPath(dstPath))
		where = name + ":" + ctPath(dstPath)
	}
	if err != nil {
		var ie initErr
		if errors.As(err, &ie) {
			err = fmt.Errorf("container %s: %s", ct.Name, ie)
		}
		return withStatus(1, err)
	}
	if !c.Quiet && where != "-" && term.IsTerminal(int(os.Stderr.Fd())) {
		fmt.Fprintf(os.Stderr, "Successfully copied %s to %s\n", units.HumanSize(float64(n)), where)
	}
	return nil
}

// splitCpArg is docker's reading of a cp argument: CONTAINER:PATH, unless
// it is absolute or starts with "." (a host path with a colon in it).
func splitCpArg(arg string) (container, p string) {
	if strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, ".") || arg == "-" {
		return "", arg
	}
	ct, p, ok := strings.Cut(arg, ":")
	if !ok {
		return "", arg
	}
	return ct, p
}

// ctPath is a path in the container from its root, with what its end
// says (a trailing slash, "/.") kept.
func ctPath(p string) string {
	if !strings.HasPrefix(p, "/") {
		return "/" + p
	}
	return p
}

// counter counts what passes through it.
type counter struct {
	r io.Reader
	n int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// out copies the container's src to the host's dst (or a tar on stdout).
func (c *cpCmd) out(src, dst string) (int64, error) {
	clean, contents, slash := cp.Split(src)
	pr, pw, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	type reply struct {
		rep proto.ExecReply
		err error
	}
	done := make(chan reply, 1)
	go func() {
		// A trailing slash follows a symlink given as the source, as
		// docker's (and a path's resolution) does.
		rep, err := c.serve(proto.CopyRequest{Out: true, Path: clean, Follow: c.FollowLink || slash, Contents: contents, Slash: slash}, pw)
		done <- reply{rep, err}
	}()
	in := &counter{r: pr}
	var got cp.Received
	var recvErr error
	if dst == "-" {
		_, recvErr = io.Copy(os.Stdout, in)
	} else {
		top := cp.Top(clean, contents)
		d, _, slash := cp.Split(dst)
		got, recvErr = cp.Receive(in, top, func(first *tar.Header) (cp.Where, error) {
			d, exists, isDir, err := cp.Resolve(d)
			if err != nil {
				return cp.Where{}, err
			}
			src := cp.Source{Base: top, IsDir: first.Typeflag == tar.TypeDir, Contents: contents}
			return cp.Place(src, cp.Dest{Path: d, Slash: slash, Exists: exists, IsDir: isDir})
		}, cp.Options{NoSetID: true})
	}
	pr.Close() // init, still writing, gets EPIPE and stops
	r := <-done
	switch {
	case r.err != nil:
		return in.n, r.err
	case recvErr != nil && !cp.FromStream(recvErr):
		return in.n, recvErr // and the container's side broke off on it
	case r.rep.Err != "":
		return in.n, initErr(r.rep.Err)
	case recvErr != nil:
		return in.n, recvErr
	}
	skipped(got.Skipped)
	return in.n, nil
}

// in copies the host's src (or a tar on stdin) to the container's dst.
func (c *cpCmd) in(src, dst string) (int64, error) {
	clean, _, slash := cp.Split(dst)
	req := proto.CopyRequest{Path: clean, Slash: slash, Owners: c.Archive}
	var send func(io.Writer) error
	if src == "-" {
		send = func(w io.Writer) error {
			_, err := io.Copy(w, os.Stdin)
			return err
		}
	} else {
		s, contents, slash := cp.Split(src)
		follow := c.FollowLink || slash
		fi, err := os.Lstat(s)
		if err == nil && follow && fi.Mode()&fs.ModeSymlink != 0 {
			fi, err = os.Stat(s)
		}
		if err != nil {
			return 0, err
		}
		switch {
		case contents && !fi.IsDir():
			return 0, fmt.Errorf("%s is not a directory: a path ending in /. copies a directory's contents", s)
		case slash && !fi.IsDir():
			return 0, fmt.Errorf("%s is not a directory", src)
		}
		top := cp.Top(s, contents)
		req.Source = &proto.CopySource{Base: top, IsDir: fi.IsDir(), Contents: top == "."}
		send = func(w io.Writer) error { return cp.Send(w, s, top, follow, nil) }
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	cw := &countWriter{w: pw}
	sent := make(chan error, 1)
	go func() {
		err := send(cw)
		pw.Close() // the stream's end
		sent <- err
	}()
	rep, err := c.serve(req, pr)
	if err == nil && rep.Err == "" && src == "-" {
		// init took the whole tar; what may follow it on stdin (a
		// terminal's nothing) is not waited for.
		skipped(rep.Skipped)
		return cw.n.Load(), nil
	}
	var sendErr error
	if err == nil && src != "-" {
		sendErr = <-sent // ends: init has closed its end of the pipe
	}
	switch {
	case err != nil:
		return 0, err
	case sendErr != nil && !errors.Is(sendErr, syscall.EPIPE):
		return cw.n.Load(), sendErr // the cause of init's broken stream
	case rep.Err != "":
		return cw.n.Load(), initErr(rep.Err)
	case sendErr != nil:
		return cw.n.Load(), sendErr
	}
	skipped(rep.Skipped)
	return cw.n.Load(), nil
}

// initErr is why the container's side of a copy failed.
type initErr string

func (e initErr) Error() string { return string(e) }

// countWriter counts what passes through it.
type countWriter struct {
	w io.Writer
	n atomic.Int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// skipped says that device files were left out: neither side may make
// them (an unprivileged user on the host, a user namespace's root).
func skipped(n int) {
	if n > 0 {
		fmt.Fprintf(os.Stderr, "box: %d device files were not copied: only the host's root can make them\n", n)
	}
}
