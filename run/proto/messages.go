package proto

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
)

// Ready is a byte init writes on its ready pipe (fd 4): first that it
// catches signals, so the host may forward them (an init not yet catching
// them would die of one with Go's status 2); then, for an init that stays
// as PID 1, that the workload runs. StartFailed and a line of why
// (SendFailure), or EOF, instead mean init failed before the workload ran.
type Ready byte

const (
	SignalsCaught   Ready = 1
	WorkloadStarted Ready = 2
	StartFailed     Ready = 3
)

// maxFailure bounds the reason SendFailure sends.
const maxFailure = 4096

// SendFailure writes StartFailed and why on init's ready pipe: the
// workload never ran (docker leaves such a container "created", with the
// reason in State.Error).
func SendFailure(w io.Writer, why string) error {
	if len(why) > maxFailure-1 {
		why = why[:maxFailure-1]
	}
	_, err := w.Write(append([]byte{byte(StartFailed)}, why...))
	return err
}

// ReadFailure reads, without waiting, what an init that has exited left
// on its ready pipe r: ok when it was a failure (StartFailed, unless
// already read, as sawFailed says), with its reason.
func ReadFailure(r *os.File, sawFailed bool) (why string, ok bool) {
	// A read without waiting: the pipe is non-blocking, and a deadline
	// already past would fail before reading.
	rc, err := r.SyscallConn()
	if err != nil {
		return "", sawFailed
	}
	buf := make([]byte, maxFailure+1)
	n := 0
	rc.Read(func(fd uintptr) bool {
		for n < len(buf) {
			m, err := syscall.Read(int(fd), buf[n:])
			if err == syscall.EINTR {
				continue
			}
			if err != nil || m <= 0 {
				break
			}
			n += m
		}
		return true
	})
	b := buf[:n]
	if !sawFailed {
		if len(b) == 0 || Ready(b[0]) != StartFailed {
			return "", false
		}
		b = b[1:]
	}
	return strings.TrimSpace(string(b)), true
}

// SendReady writes r on init's ready pipe.
func SendReady(w io.Writer, r Ready) error {
	_, err := w.Write([]byte{byte(r)})
	return err
}

// WaitReady reads the next readiness byte; false at EOF (init is gone).
func WaitReady(r io.Reader) (Ready, bool) {
	var b [1]byte
	if n, _ := r.Read(b[:]); n != 1 {
		return 0, false
	}
	return Ready(b[0]), true
}

// ExecReply ends a box exec connection: the command's exit status
// (128+signal when killed), or, with Err, why it could not start and the
// status box exec exits with (125 box, 126 cannot invoke, 127 not found).
type ExecReply struct {
	Status int    `json:"status"`
	Err    string `json:"error,omitempty"`
	// Skipped counts the device files a copy did not make (box cp).
	Skipped int `json:"skipped,omitempty"`
}

// WriteExecReply sends rep as one JSON line.
func WriteExecReply(w io.Writer, rep ExecReply) error { return writeLine(w, rep) }

// writeLine sends v as one line of JSON (which never holds a newline).
func writeLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// readLine reads one line of JSON, at most 64 KiB, into v.
func readLine(r io.Reader, v any) error {
	line, err := bufio.NewReader(io.LimitReader(r, 64<<10)).ReadBytes('\n')
	if err != nil {
		return io.ErrUnexpectedEOF
	}
	if err := json.Unmarshal(line, v); err != nil {
		return fmt.Errorf("unexpected answer: %q", line)
	}
	return nil
}

// ReadExecReply reads init's reply; io.ErrUnexpectedEOF when init closed
// the connection without one (the container ended first).
func ReadExecReply(r io.Reader) (ExecReply, error) {
	var rep ExecReply
	err := readLine(r, &rep)
	return rep, err
}

// MaxExecRequest bounds an ExecRequest's encoding. The kernel's own limit
// on a command's arguments and environment (about a quarter of the stack
// limit, 2 MiB by default) comes first for any request that could run.
const MaxExecRequest = 8 << 20

// An exec request travels as a frame: a header — the body's length, 4
// bytes big-endian, with the descriptors (the stdio; none with a tty) —
// then the body, JSON: a unix stream socket gives no message boundaries,
// and a request may be larger than one receive. init hands its keep-id
// user's processes to the spawner in the same frames (package pid1).

// WriteExecRequest sends req with the descriptors stdio on the socket fd.
func WriteExecRequest(fd int, req *ExecRequest, stdio []int) error {
	err := WriteFrame(fd, req, stdio)
	if tl, ok := err.(*TooLargeError); ok {
		return fmt.Errorf("the exec request is %d bytes, over box's limit of %d MiB", tl.Size, MaxExecRequest>>20)
	}
	return err
}

// TooLargeError is WriteFrame's refusal of a body over MaxExecRequest.
type TooLargeError struct{ Size int }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("a frame of %d bytes, over box's limit of %d MiB", e.Size, MaxExecRequest>>20)
}

// WriteFrame sends v (as JSON, at most MaxExecRequest bytes) with the
// descriptors fds as one frame on the stream socket fd.
func WriteFrame(fd int, v any, fds []int) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(body) > MaxExecRequest {
		return &TooLargeError{len(body)}
	}
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(body)))
	if err := sendmsg(fd, hdr[:], fds); err != nil {
		return err
	}
	return writeAll(fd, body)
}

// ErrExecTooLarge is returned for a request over MaxExecRequest.
var ErrExecTooLarge = fmt.Errorf("the exec request is over box's limit of %d MiB", MaxExecRequest>>20)

// Why ReadFrame failed after the frame began.
var (
	errFrameHeader = errors.New("frame header cut short")
	errFrameBody   = errors.New("frame body cut short")
)

// ReadFrame reads one frame's body and the descriptors that came with it
// (up to max, close-on-exec; the caller's, also on error). An error that
// is none of ErrExecTooLarge, errFrameHeader and errFrameBody is the
// socket's own: closed before a frame began, or failing.
func ReadFrame(fd, max int) (fds []int, body []byte, err error) {
	fds, hdr, err := recvFDs(fd, 4, max)
	if err != nil {
		return fds, nil, err
	}
	var size [4]byte
	got := copy(size[:], hdr)
	if err := readFull(fd, size[got:]); err != nil {
		return fds, nil, errFrameHeader
	}
	n := binary.BigEndian.Uint32(size[:])
	if n > MaxExecRequest {
		return fds, nil, ErrExecTooLarge
	}
	body = make([]byte, n)
	if err := readFull(fd, body); err != nil {
		return fds, nil, errFrameBody
	}
	return fds, body, nil
}

// ReadExecRequest reads a request and the descriptors that came with it
// (up to three; the caller owns them, also on error).
func ReadExecRequest(fd int) (*ExecRequest, []*os.File, error) {
	fds, body, err := ReadFrame(fd, 3)
	var files []*os.File
	for i, f := range fds {
		files = append(files, os.NewFile(uintptr(f), fmt.Sprintf("stdio%d", i)))
	}
	switch {
	case err == errFrameHeader:
		return nil, files, errors.New("bad exec request")
	case err == errFrameBody:
		return nil, files, errors.New("bad exec request: it ended early")
	case err != nil:
		return nil, files, err
	}
	var req ExecRequest
	if err := json.Unmarshal(body, &req); err != nil || len(req.Args) == 0 {
		return nil, files, errors.New("bad exec request")
	}
	return &req, files, nil
}

// MonitorStatus is the one line a detached container's monitor writes when
// the container runs (Err empty) or could not start (Status is box's exit
// status then).
type MonitorStatus struct {
	Status int    `json:"status"`
	Err    string `json:"error,omitempty"`
}

// WriteMonitorStatus sends s as one JSON line.
func WriteMonitorStatus(w io.Writer, s MonitorStatus) error { return writeLine(w, s) }

// ReadMonitorStatus reads the monitor's line; an error when the monitor
// died without one.
func ReadMonitorStatus(r io.Reader) (MonitorStatus, error) {
	var s MonitorStatus
	if err := readLine(r, &s); err != nil {
		return s, errors.New("the container's monitor died before the container started")
	}
	return s, nil
}

// A published port's connection: the monitor sends init the container
// port (2 bytes, big-endian) with one end of a fresh socket pair, on
// which init answers with a socket connected to that port inside the
// container's network namespace, or with a message without one when
// nothing listens. A pair per request keeps a slow container port from
// holding up the others.

// PortRequest asks init for a socket connected to a port of the
// container's: TCP on its loopback (a published port), or at one of its
// IPv4 addresses (another container of its network: a server bound to the
// loopback only is not theirs to reach, as with docker), or a UDP socket
// connected to that address and port.
//
// Addr is an array, not a netip.Addr: init imports this package, and
// net/netip would move init's initialiser later (see run/pid1's doc).
type PortRequest struct {
	Port uint16
	Addr [4]byte // all zero: 127.0.0.1
	UDP  bool    // with Addr
}

// SendPortRequest sends r on sock, answered on answer (init's end of the
// caller's pair). On the wire: the port, then the address, then 1 for
// UDP; an older init, which reads the port alone (seqpacket keeps the
// rest from the next request), dials its loopback.
func SendPortRequest(sock *os.File, r PortRequest, answer *os.File) error {
	req := binary.BigEndian.AppendUint16(nil, r.Port)
	if r.Addr != ([4]byte{}) {
		req = append(req, r.Addr[:]...)
		if r.UDP {
			req = append(req, 1)
		}
	}
	return sendmsg(int(sock.Fd()), req, []int{int(answer.Fd())})
}

// RecvPortRequest receives the next request; a malformed one is skipped.
// Its Addr is 127.0.0.1 unless the request named another.
func RecvPortRequest(sock *os.File) (r PortRequest, answer *os.File, err error) {
	for {
		fds, data, err := recvFDs(int(sock.Fd()), 7, 1)
		if err != nil {
			return r, nil, err
		}
		if (len(data) == 2 || len(data) == 6 || len(data) == 7 && data[6] == 1) && len(fds) == 1 {
			r = PortRequest{Port: binary.BigEndian.Uint16(data), Addr: [4]byte{127, 0, 0, 1}}
			if len(data) >= 6 {
				r.Addr = [4]byte(data[2:6])
			}
			r.UDP = len(data) == 7
			return r, os.NewFile(uintptr(fds[0]), "port-answer"), nil
		}
		for _, fd := range fds {
			closeFD(fd)
		}
	}
}

// AnswerPort sends the connected socket fd, or with fd < 0 says that
// nothing listens.
func AnswerPort(answer *os.File, fd int) error {
	if fd < 0 {
		return SendFDByte(int(answer.Fd()), 1, -1)
	}
	return SendFDByte(int(answer.Fd()), 0, fd)
}
