package proto

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func streamPair(t *testing.T) (a, b int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

// An exec request larger than one receive (and than the 64 KiB buffer init
// used to read it with) arrives whole, with its descriptors.
func TestExecRequestRoundTrip(t *testing.T) {
	for _, size := range []int{0, 70 << 10, 3 << 20} {
		a, b := streamPair(t)
		req := &ExecRequest{Args: []string{"env"}, Env: []string{"BIG=" + strings.Repeat("x", size)}, Cwd: "/w", User: "1:2"}
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() { errc <- WriteExecRequest(a, req, []int{int(r.Fd()), int(w.Fd()), int(w.Fd())}) }()
		got, files, err := ReadExecRequest(b)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if len(files) != 3 || got.Env[0] != req.Env[0] || got.Cwd != "/w" || got.User != "1:2" || got.Args[0] != "env" {
			t.Fatalf("size %d: got %d files and %+.80v", size, len(files), got)
		}
		// The descriptors are the pipe's: what goes into the received
		// write end comes out of the original read end.
		files[1].Write([]byte("through"))
		buf := make([]byte, 7)
		io.ReadFull(r, buf)
		if string(buf) != "through" {
			t.Fatalf("passed descriptor: read %q", buf)
		}
		for _, f := range append(files, r, w) {
			f.Close()
		}
	}
}

func TestExecRequestRefused(t *testing.T) {
	big := &ExecRequest{Args: []string{"true"}, Env: []string{strings.Repeat("x", MaxExecRequest)}}
	if err := WriteExecRequest(-1, big, nil); err == nil || !strings.Contains(err.Error(), "limit of 8 MiB") {
		t.Errorf("oversized request: %v", err)
	}
	// A header that claims more than the limit is refused without reading on.
	a, b := streamPair(t)
	unix.Write(a, []byte{0xff, 0xff, 0xff, 0xff})
	if _, _, err := ReadExecRequest(b); !errors.Is(err, ErrExecTooLarge) {
		t.Errorf("oversized header: %v", err)
	}
	// A request cut short, or without arguments, is a bad request.
	a, b = streamPair(t)
	unix.Write(a, []byte{0, 0, 0, 10, '{'})
	unix.Shutdown(a, unix.SHUT_WR)
	if _, _, err := ReadExecRequest(b); err == nil || !strings.Contains(err.Error(), "ended early") {
		t.Errorf("short request: %v", err)
	}
	a, b = streamPair(t)
	go WriteExecRequest(a, &ExecRequest{}, nil)
	if _, _, err := ReadExecRequest(b); err == nil || err.Error() != "bad exec request" {
		t.Errorf("request without args: %v", err)
	}
}

func TestReplies(t *testing.T) {
	var buf bytes.Buffer
	WriteExecReply(&buf, ExecReply{Status: 127, Err: "exec: \"nope\": not found\nsecond line"})
	rep, err := ReadExecReply(&buf)
	if err != nil || rep.Status != 127 || !strings.Contains(rep.Err, "second line") {
		t.Errorf("ReadExecReply = %+v, %v", rep, err)
	}
	if _, err := ReadExecReply(strings.NewReader("")); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("empty reply: %v", err)
	}
	if _, err := ReadExecReply(strings.NewReader("exit 0\n")); err == nil {
		t.Error("a line that is not a reply was taken")
	}
	buf.Reset()
	WriteMonitorStatus(&buf, MonitorStatus{Status: 126, Err: "publishing port 80: address already in use"})
	st, err := ReadMonitorStatus(&buf)
	if err != nil || st.Status != 126 || st.Err == "" {
		t.Errorf("ReadMonitorStatus = %+v, %v", st, err)
	}
	if _, err := ReadMonitorStatus(strings.NewReader("")); err == nil {
		t.Error("a monitor that died without a status was taken as started")
	}
	buf.Reset()
	SendReady(&buf, SignalsCaught)
	SendReady(&buf, WorkloadStarted)
	if r, ok := WaitReady(&buf); !ok || r != SignalsCaught {
		t.Errorf("first ready = %d, %v", r, ok)
	}
	if r, ok := WaitReady(&buf); !ok || r != WorkloadStarted {
		t.Errorf("second ready = %d, %v", r, ok)
	}
	if _, ok := WaitReady(&buf); ok {
		t.Error("EOF read as ready")
	}
}

func TestPortRequest(t *testing.T) {
	host, initSide, err := SocketPair()
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	defer initSide.Close()
	mine, theirs, err := SocketPair()
	if err != nil {
		t.Fatal(err)
	}
	defer mine.Close()
	// A request for another address of the container's, a UDP one, then
	// one for its loopback.
	for _, want := range []PortRequest{
		{Port: 9090, Addr: [4]byte{10, 89, 0, 2}},
		{Port: 53, Addr: [4]byte{10, 89, 0, 2}, UDP: true},
	} {
		if err := SendPortRequest(host, want, theirs); err != nil {
			t.Fatal(err)
		}
		got, answer, err := RecvPortRequest(initSide)
		if err != nil || got != want {
			t.Fatalf("RecvPortRequest = %+v, %v; want %+v", got, err, want)
		}
		answer.Close()
	}
	if err := SendPortRequest(host, PortRequest{Port: 8080}, theirs); err != nil {
		t.Fatal(err)
	}
	theirs.Close()
	req, answer, err := RecvPortRequest(initSide)
	if err != nil || req != (PortRequest{Port: 8080, Addr: [4]byte{127, 0, 0, 1}}) {
		t.Fatalf("RecvPortRequest = %+v, %v", req, err)
	}
	r, w, _ := os.Pipe()
	defer r.Close()
	AnswerPort(answer, int(w.Fd()))
	w.Close()
	conn, err := RecvFD(mine, "conn")
	if err != nil {
		t.Fatalf("answer: %v", err)
	}
	conn.Write([]byte("x"))
	conn.Close()
	if b, _ := io.ReadAll(r); string(b) != "x" {
		t.Errorf("the answered descriptor is not the pipe: read %q", b)
	}
	// Nothing listening: an answer without a descriptor.
	AnswerPort(answer, -1)
	answer.Close()
	if _, err := RecvFD(mine, "conn"); !errors.Is(err, ErrNoFD) {
		t.Errorf("refused port: %v", err)
	}
}

func TestNestedPID(t *testing.T) {
	for _, c := range []struct {
		spec Spec
		want bool
	}{
		{Spec{}, false},                 // init execs the workload
		{Spec{Exec: true}, true},        // detached
		{Spec{Ports: []Port{{}}}, true}, // -p
		{Spec{KeepID: true}, true},      // keep-id
		{Spec{Init: true}, false},       // --init: init is PID 1
		{Spec{Init: true, Exec: true}, false},
	} {
		if got := c.spec.NestedPID(); got != c.want {
			t.Errorf("%+v: NestedPID() = %v, want %v", c.spec, got, c.want)
		}
	}
}
