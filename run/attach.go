package run

import (
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/box-run/box/run/pid1"
	"github.com/box-run/box/run/proto"
)

// attachHub serves box attach for a detached container (proto's
// AttachSocket): each client gets the container's output from the moment
// it connects, and its input reaches the container's stdin when the
// container was made with -i. A client that cannot keep up loses its
// connection rather than hold the container's output back.
type attachHub struct {
	mu      sync.Mutex
	clients map[*attachClient]struct{}
	ln      net.Listener
	path    string
	input   func([]byte) error // nil: no stdin to attach
	resize  func(rows, cols uint16)
	closed  bool
}

type attachClient struct {
	c    net.Conn
	out  chan []byte // frames, ready to write
	gone chan struct{}
	once sync.Once
}

// listenAttach makes the hub and its socket in the container's directory.
func listenAttach(dir string) (*attachHub, error) {
	p := filepath.Join(dir, proto.AttachSocket)
	os.Remove(p)
	short, done, err := pid1.ShortPath(dir, proto.AttachSocket)
	if err != nil {
		return nil, err
	}
	defer done()
	ln, err := net.Listen("unix", short)
	if err != nil {
		return nil, err
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	h := &attachHub{clients: map[*attachClient]struct{}{}, ln: ln, path: p}
	go h.accept()
	return h, nil
}

func (h *attachHub) accept() {
	for {
		c, err := h.ln.Accept()
		if err != nil {
			return
		}
		cl := &attachClient{c: c, out: make(chan []byte, 4096), gone: make(chan struct{})}
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			c.Close()
			return
		}
		h.clients[cl] = struct{}{}
		h.mu.Unlock()
		go h.send(cl)
		go h.receive(cl)
	}
}

// send writes a client's frames until it goes or the hub closes.
func (h *attachHub) send(cl *attachClient) {
	defer h.drop(cl)
	for {
		select {
		case f, ok := <-cl.out:
			if !ok {
				// The container exited and everything was sent.
				cl.c.SetWriteDeadline(time.Now().Add(time.Second))
				proto.WriteAttachFrame(cl.c, proto.AttachEnd, nil)
				return
			}
			cl.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := cl.c.Write(f); err != nil {
				return
			}
		case <-cl.gone:
			return
		}
	}
}

// receive takes a client's input and terminal sizes. Input the container
// no longer takes (its stdin closed) is dropped from then on; the output
// goes on.
func (h *attachHub) receive(cl *attachClient) {
	defer h.drop(cl)
	var buf []byte
	inputGone := false
	for {
		kind, payload, err := proto.ReadAttachFrame(cl.c, buf)
		if err != nil {
			return
		}
		buf = payload[:0]
		h.mu.Lock()
		input, resize := h.input, h.resize
		h.mu.Unlock()
		switch {
		case kind == proto.AttachInput && input != nil && !inputGone:
			inputGone = input(payload) != nil
		case kind == proto.AttachResize && resize != nil && len(payload) == 4:
			resize(binary.BigEndian.Uint16(payload), binary.BigEndian.Uint16(payload[2:]))
		}
	}
}

// drop ends a client's connection.
func (h *attachHub) drop(cl *attachClient) {
	cl.once.Do(func() {
		close(cl.gone)
		h.mu.Lock()
		delete(h.clients, cl)
		h.mu.Unlock()
		cl.c.Close()
	})
}

// writer is the hub's side of one of the container's output streams.
func (h *attachHub) writer(kind byte) attachWriter { return attachWriter{h, kind} }

type attachWriter struct {
	h    *attachHub
	kind byte
}

// Write hands a copy of b to each client; one whose queue is full is
// dropped. It never fails: the log's copy must go on.
func (w attachWriter) Write(b []byte) (int, error) {
	h := w.h
	h.mu.Lock()
	defer h.mu.Unlock()
	written := len(b)
	if len(h.clients) == 0 || len(b) == 0 {
		return written, nil
	}
	var f []byte
	for len(b) > 0 {
		n := min(len(b), 64<<10)
		f = proto.AppendAttachFrame(f, w.kind, b[:n])
		b = b[n:]
	}
	for cl := range h.clients {
		select {
		case cl.out <- f:
		default:
			go h.drop(cl)
		}
	}
	return written, nil
}

// setInput says where clients' input goes, and how a terminal is sized.
func (h *attachHub) setInput(input func([]byte) error, resize func(rows, cols uint16)) {
	h.mu.Lock()
	h.input, h.resize = input, resize
	h.mu.Unlock()
}

// close stops accepting, lets each client have what was queued for it,
// and ends its connection: box attach then reads the container's exit.
func (h *attachHub) close() error {
	h.mu.Lock()
	h.closed = true
	clients := make([]*attachClient, 0, len(h.clients))
	for cl := range h.clients {
		clients = append(clients, cl)
	}
	clear(h.clients) // no Write queues more for them
	h.mu.Unlock()
	h.ln.Close()
	os.Remove(h.path)
	for _, cl := range clients {
		close(cl.out) // send writes what is queued, then drops it
	}
	deadline := time.After(2 * time.Second)
	for _, cl := range clients {
		select {
		case <-cl.gone:
		case <-deadline:
			h.drop(cl)
		}
	}
	return nil
}
