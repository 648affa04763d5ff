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

// PausedFile, in the container's directory, marks a container box pause
// suspended: box exec refuses it (package run writes and reads it).
const PausedFile = "paused"

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
	// Copy asks init for box cp instead of a process (Args then only
	// names it, for an init that does not know the field: it fails to
	// start that and says so).
	Copy *CopyRequest `json:"copy,omitempty"`
}

// ExecCopyMark, beside ExecSocket, says that its init takes a
// CopyRequest; it holds the socket's inode, as ExecDetachMark.
const ExecCopyMark = "exec.copy"

// CopyArg0 is a copy request's Args[0]: an older init, which would try
// to run it, finds no such file.
const CopyArg0 = "/.box-cp-needs-a-newer-init"

// CopyRequest is box cp's, sent with one descriptor: a pipe's write end
// for Out (init writes the tar stream of Path to it), else its read end
// (init unpacks the stream from it at Path). init answers with an
// ExecReply (Status 0, or 1 and Err) once it is done.
type CopyRequest struct {
	Out  bool   `json:"out"`
	Path string `json:"path"` // absolute in the container
	// Out: Path's own symlink is followed (cp -L); Contents: a
	// directory's contents, the stream's top named ".".
	Follow   bool `json:"follow,omitempty"`
	Contents bool `json:"contents,omitempty"`
	// Slash: Path was given with a trailing slash (out: it must be a
	// directory, or a symlink, followed). In: Source is what the
	// stream holds (run/cp's Source), or nil for a tar given as it is
	// (box cp -), unpacked into Path, a directory; Owners keeps the
	// stream's ids (cp -a).
	Slash  bool        `json:"slash,omitempty"`
	Source *CopySource `json:"source,omitempty"`
	Owners bool        `json:"owners,omitempty"`
}

// CopySource is run/cp's Source on the wire.
type CopySource struct {
	Base     string `json:"base"`
	IsDir    bool   `json:"isDir"`
	Contents bool   `json:"contents"`
}
