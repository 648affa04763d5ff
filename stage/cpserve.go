package stage

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"

	"github.com/box-run/box/run/cp"
	"github.com/box-run/box/run/pid1"
	"github.com/box-run/box/run/proto"
	"golang.org/x/sys/unix"
)

// CpServe is box cp's helper for a running container (pid1.CopyStage),
// started by its init with init's /proc as its root: arguments the request
// (JSON), the workload's capabilities, and where to go ("ns": fd 5 is the
// workload's mount namespace; "root": fd 5 is the container's root); fd 3
// the stream's pipe end, fd 4 the reply, one proto.ExecReply line. In the
// workload's PID namespace's view only with --init.
func CpServe(args []string) error {
	// Never a way to box's binary through /proc/PID/exe (the spawner's
	// rule).
	unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	reply := os.NewFile(4, "reply")
	rep := proto.ExecReply{}
	n, err := cpServe(args)
	rep.Skipped = n
	if err != nil {
		rep.Status, rep.Err = 1, err.Error()
	}
	return json.NewEncoder(reply).Encode(rep)
}

func cpServe(args []string) (int, error) {
	if len(args) != 3 {
		return 0, fmt.Errorf("cp-serve stage: want 3 arguments, got %d", len(args))
	}
	var req proto.CopyRequest
	if err := json.Unmarshal([]byte(args[0]), &req); err != nil {
		return 0, fmt.Errorf("cp-serve stage: %w", err)
	}
	caps, err := pid1.ParseCaps(args[1])
	if err != nil {
		return 0, err
	}
	// Every file operation below runs on this thread: its namespace,
	// root and capabilities are the workload's.
	runtime.LockOSThread()
	if err := pid1.JoinWorkload(5, args[2], caps); err != nil {
		return 0, err
	}
	return cp.Serve(&req, os.NewFile(3, "stream"))
}
