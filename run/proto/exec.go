package proto

// box exec reaches a container whose init stays as PID 1 through a unix
// stream socket, ExecSocket, in the container's directory. The client
// (pid1.Exec) sends an ExecRequest with WriteExecRequest, with its stdio
// descriptors unless it asks for a tty. With a tty, init answers with the
// pty's master (SendFDByte) and waits for one byte, sent once the client
// has sized it. init then starts the process and, when it exits, ends the
// connection with an ExecReply; a process that could not start gets an
// ExecReply with the reason at once.
//
// A detached request (Detach, box exec -d) is answered as soon as the
// process started, with status 0, and its tty, if any, stays with init,
// which reads and drops its output. An init of an older box ignores the
// field and answers only at the exit: the client asks for it only when
// ExecDetachMark is beside the socket, which such an init never writes.

// ExecSocket is the socket's name in the container's directory.
const ExecSocket = "exec.sock"

// ExecDetachMark, beside ExecSocket, says that its init answers a
// detached request once the process started.
const ExecDetachMark = "exec.detach"

// ExecRequest is what box exec asks of init.
type ExecRequest struct {
	Args []string `json:"args"`
	Env  []string `json:"env"`  // K=V, over the container's environment
	Cwd  string   `json:"cwd"`  // "" = the container's working directory
	User string   `json:"user"` // "" = the container's user
	TTY  bool     `json:"tty"`  // allocate a pty; its master is sent back
	// Detach: answer once the process started; a tty stays with init.
	Detach bool `json:"detach,omitempty"`
}
