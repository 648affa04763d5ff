// Package events is box's record of what happened in a store, for box
// events (docker's): one JSON line per event in events.jsonl at the
// store's root, appended with O_APPEND in one write (lines stay whole
// between processes: each is far below what a write to a local file
// could interleave), read back and followed by box events. The file is
// cut to its newer half once it passes 4 MiB, under a lock, so it stays
// small without a daemon.
//
// Appending is best-effort: an event that cannot be written (a full
// disk, a read-only shared store) is dropped, never an error for the
// command that made it.
package events

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/box-run/box/internal/replace"
	"golang.org/x/sys/unix"
)

// File is the events file's name in a store's root.
const File = "events.jsonl"

// maxSize is when Append cuts the file to its newer half (a variable for
// the tests).
var maxSize int64 = 4 << 20

// Event is docker's events message.
type Event struct {
	Status   string `json:"status,omitempty"` // the action, for containers and images (docker's old field)
	ID       string `json:"id,omitempty"`
	From     string `json:"from,omitempty"` // a container's image
	Type     string // container, image, volume
	Action   string
	Actor    Actor
	Scope    string `json:"scope"`
	Time     int64  `json:"time"`
	TimeNano int64  `json:"timeNano"`
}

// Actor is what the event is about.
type Actor struct {
	ID         string
	Attributes map[string]string
}

// Append records an event of typ about id (with attrs, docker's: a
// container's image and name, an image's name) in the store at root.
func Append(root, typ, action, id string, attrs map[string]string) {
	Write(root, New(typ, action, id, attrs))
}

// ContainerAttrs are a container's attributes in its events, docker's:
// its image, its name and its labels.
func ContainerAttrs(image, name string, labels map[string]string) map[string]string {
	attrs := map[string]string{"image": image, "name": name}
	for k, v := range labels {
		attrs[k] = v
	}
	return attrs
}

// New is an event of typ about id, with attrs, at this moment.
func New(typ, action, id string, attrs map[string]string) Event {
	now := time.Now()
	e := Event{Type: typ, Action: action, Actor: Actor{ID: id, Attributes: attrs}, Scope: "local", Time: now.Unix(), TimeNano: now.UnixNano()}
	if e.Actor.Attributes == nil {
		e.Actor.Attributes = map[string]string{}
	}
	if typ == "container" || typ == "image" {
		e.Status, e.ID = action, id
		if typ == "container" {
			e.From = attrs["image"]
		}
	}
	return e
}

// Write appends evs to the store's events file at root, in one write.
func Write(root string, evs ...Event) {
	var b []byte
	for _, e := range evs {
		b = append(e.appendJSON(b), '\n')
	}
	if len(b) == 0 {
		return
	}
	// The descriptor as it is: os.File would set it non-blocking and try
	// the poller first, five system calls more on box exec's way.
	p := filepath.Join(root, File)
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	unix.Write(fd, b)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) == nil && st.Size > maxSize {
		trim(p)
	}
}

// Exec prepares docker's exec events for a command cmd run in container
// id (attrs: the container's, as Append's): start records exec_create
// and exec_start (box exec calls it once its request is sent, while the
// container starts the command), die records exec_die with the command's
// exit status (not for exec -d, whose end box does not see). The exec's
// ID is made here (box keeps no exec records: it names the events' exec
// only).
func Exec(root, id string, attrs map[string]string, cmd []string) (start func(), die func(status int)) {
	var raw [32]byte
	execID := ""
	if _, err := unix.Getrandom(raw[:], 0); err == nil {
		execID = hex.EncodeToString(raw[:])
	}
	with := func(extra map[string]string) map[string]string {
		m := make(map[string]string, len(attrs)+len(extra))
		for k, v := range attrs {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	line := strings.Join(cmd, " ")
	a := with(map[string]string{"execID": execID})
	created := New("container", "exec_create: "+line, id, a)
	wrote := false
	return func() {
			wrote = true
			Write(root, created, New("container", "exec_start: "+line, id, a))
		}, func(status int) {
			if !wrote { // the request was never sent
				Write(root, created)
			}
			Write(root, New("container", "exec_die", id, with(map[string]string{"execID": execID, "exitCode": strconv.Itoa(status)})))
		}
}

// trim keeps the newer half of the file, whole lines, under a lock on it
// (one trimmer at a time; appends made meanwhile go to the old file and
// are lost, which a record of this kind can afford).
func trim(p string) {
	f, err := os.Open(p)
	if err != nil {
		return
	}
	defer f.Close()
	if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		return
	}
	// Another trimmer may have replaced the file since it was opened.
	if fi, err := f.Stat(); err != nil {
		return
	} else if cur, err := os.Stat(p); err != nil || inode(cur) != inode(fi) {
		return
	}
	b, err := io.ReadAll(f)
	if err != nil || int64(len(b)) <= maxSize {
		return
	}
	b = b[len(b)/2:]
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	replace.File(p, b)
}

// Reader reads the events file from a point on, across its trims.
type Reader struct {
	path string
	off  int64
	ino  uint64
}

// NewReader reads the store's events from the file's start (all: true)
// or its end.
func NewReader(root string, all bool) *Reader {
	r := &Reader{path: filepath.Join(root, File)}
	if fi, err := os.Stat(r.path); err == nil {
		r.ino = inode(fi)
		if !all {
			r.off = fi.Size()
		}
	}
	return r
}

// Next returns the events written since the last call.
func (r *Reader) Next() ([]Event, error) {
	f, err := os.Open(r.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if ino := inode(fi); ino != r.ino || fi.Size() < r.off {
		// Trimmed: the new file's lines are all after what was read,
		// but for the half kept, which was read already; start at its
		// end unless it is new.
		if r.ino != 0 {
			r.off = fi.Size()
		} else {
			r.off = 0
		}
		r.ino = ino
	}
	if _, err := f.Seek(r.off, io.SeekStart); err != nil {
		return nil, err
	}
	var out []Event
	br := bufio.NewReader(f)
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			break // a partial line waits for its end
		}
		r.off += int64(len(line))
		var e Event
		if json.Unmarshal(line, &e) == nil {
			out = append(out, e)
		}
	}
	return out, nil
}

func inode(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// Text is docker events' line for e: time, type, action, id, attributes.
func (e Event) Text() string {
	t := time.Unix(0, e.TimeNano).Format("2006-01-02T15:04:05.000000000Z07:00") // local, as docker's CLI
	s := t + " " + e.Type + " " + e.Action + " " + e.Actor.ID
	if len(e.Actor.Attributes) > 0 {
		keys := make([]string, 0, len(e.Actor.Attributes))
		for k := range e.Actor.Attributes {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		s += " ("
		for i, k := range keys {
			if i > 0 {
				s += ", "
			}
			s += k + "=" + e.Actor.Attributes[k]
		}
		s += ")"
	}
	return s
}

// appendJSON appends e as encoding/json writes it (the same fields, in
// the same order, map keys sorted, the same escapes), without reflection:
// box exec writes its events on its way to the container and back, where
// encoding/json's first use of a type costs a process that short a few
// hundred microseconds of page faults (TestAppendJSON holds the two
// equal).
func (e Event) appendJSON(b []byte) []byte {
	b = append(b, '{')
	if e.Status != "" {
		b = appendString(append(b, `"status":`...), e.Status)
		b = append(b, ',')
	}
	if e.ID != "" {
		b = appendString(append(b, `"id":`...), e.ID)
		b = append(b, ',')
	}
	if e.From != "" {
		b = appendString(append(b, `"from":`...), e.From)
		b = append(b, ',')
	}
	b = appendString(append(b, `"Type":`...), e.Type)
	b = appendString(append(b, `,"Action":`...), e.Action)
	b = appendString(append(b, `,"Actor":{"ID":`...), e.Actor.ID)
	b = append(b, `,"Attributes":`...)
	if e.Actor.Attributes == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '{')
		for i, k := range slices.Sorted(maps.Keys(e.Actor.Attributes)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = appendString(append(b, ':'), e.Actor.Attributes[k])
		}
		b = append(b, '}')
	}
	b = appendString(append(b, `},"scope":`...), e.Scope)
	b = strconv.AppendInt(append(b, `,"time":`...), e.Time, 10)
	b = strconv.AppendInt(append(b, `,"timeNano":`...), e.TimeNano, 10)
	return append(b, '}')
}

// appendString appends s as a JSON string, escaped as encoding/json
// escapes it (HTML characters and U+2028/9 too; invalid UTF-8 as U+FFFD).
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\b':
				b = append(b, '\\', 'b')
			case c == '\f':
				b = append(b, '\\', 'f')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
