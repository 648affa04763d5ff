package pid1

import (
	"errors"
	"os"

	"github.com/box-run/box/run/cp"
	"github.com/box-run/box/run/proto"
)

// copyFiles serves box cp (proto.CopyRequest) on the connection c, with
// the pipe end in files. It runs in init, whose root is the container's
// after pivot_root: the container's paths resolve as its processes see
// them (its volumes too), and none leads to the host. init's threads hold
// every capability of the container's user namespace, as docker's copies
// have its root's: files it makes belong to the container's root, or with
// Owners to the ids in the stream.
func copyFiles(c conn, req *proto.CopyRequest, files []*os.File) {
	if len(files) != 1 {
		failExec(c, 125, errors.New("bad copy request"))
		return
	}
	rep := proto.ExecReply{}
	skipped, err := cp.Serve(req, files[0])
	files[0].Close() // the stream's end, before the reply
	if err != nil {
		rep.Status, rep.Err = 1, err.Error()
	}
	rep.Skipped = skipped
	proto.WriteExecReply(c, rep)
	c.Close()
}
