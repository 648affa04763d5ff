package splice

import (
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// pair returns the two ends of a TCP connection on the loopback.
func pair(t *testing.T, l net.Listener) (client, server *net.TCPConn) {
	t.Helper()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// proxied joins a client's connection to a server's through Join, with
// wrap applied to the two sockets Join gets, and returns the client's and
// the server's ends.
func proxied(t *testing.T, l net.Listener, wrap func(*net.TCPConn) net.Conn) (client, server *net.TCPConn, joined chan struct{}) {
	client, a := pair(t, l)
	b, server := pair(t, l)
	joined = make(chan struct{})
	go func() {
		Join(wrap(a), wrap(b), 4<<10)
		close(joined)
	}()
	return client, server, joined
}

var wraps = map[string]func(*net.TCPConn) net.Conn{
	// both kernel sockets: splice(2)
	"kernel": func(c *net.TCPConn) net.Conn { return c },
	// through a buffer, waiting for data first
	"waiter": func(c *net.TCPConn) net.Conn { return waitingConn{plainConn{c}} },
	// through a buffer, a blocking read
	"plain": func(c *net.TCPConn) net.Conn { return plainConn{c} },
}

type plainConn struct{ *net.TCPConn }

type waitingConn struct{ plainConn }

func (c waitingConn) WaitRead() error { return readable(c.TCPConn) }

func TestJoinHalfClose(t *testing.T) {
	for name, wrap := range wraps {
		t.Run(name, func(t *testing.T) {
			client, server, joined := proxied(t, listen(t), wrap)
			big := make([]byte, 1<<20)
			for i := range big {
				big[i] = byte(i)
			}
			go func() {
				client.Write(big)
				client.CloseWrite()
			}()
			server.SetDeadline(time.Now().Add(10 * time.Second))
			got, err := io.ReadAll(server)
			if err != nil || len(got) != len(big) || string(got) != string(big) {
				t.Fatalf("server read %d bytes (%v), want the client's %d, then the end of the stream", len(got), err, len(big))
			}
			// The other direction still works after the half-close.
			server.Write([]byte("pong"))
			server.Close()
			client.SetDeadline(time.Now().Add(10 * time.Second))
			got, err = io.ReadAll(client)
			if err != nil || string(got) != "pong" {
				t.Fatalf("client read %q (%v), want pong then the end of the stream", got, err)
			}
			select {
			case <-joined:
			case <-time.After(10 * time.Second):
				t.Fatal("Join did not return after both directions ended")
			}
		})
	}
}

// TestJoinResetClosesBoth: an error in one direction ends the other.
func TestJoinResetClosesBoth(t *testing.T) {
	for name, wrap := range wraps {
		t.Run(name, func(t *testing.T) {
			client, server, joined := proxied(t, listen(t), wrap)
			server.SetLinger(0)
			server.Close() // a reset
			client.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.ReadAll(client); os.IsTimeout(err) {
				t.Fatal("the client's side stayed open after the server's reset")
			}
			select {
			case <-joined:
			case <-time.After(10 * time.Second):
				t.Fatal("Join did not return after a reset")
			}
		})
	}
}

// TestJoinIdleHoldsNoPipe: idle joined kernel sockets hold nothing but the
// sockets themselves. Go's own io.Copy between them would hold a pipe (two
// descriptors) per direction while it waits for data.
func TestJoinIdleHoldsNoPipe(t *testing.T) {
	const n = 32
	l := listen(t)
	before := openFDs(t)
	var clients, servers []*net.TCPConn
	for range n {
		c, s, _ := proxied(t, l, wraps["kernel"])
		clients, servers = append(clients, c), append(servers, s)
	}
	time.Sleep(100 * time.Millisecond)
	if extra, want := openFDs(t)-before, 4*n; extra > want {
		t.Errorf("%d idle joined connections hold %d descriptors, want %d (their sockets)", n, extra, want)
	}
	// And they still carry data.
	for i, c := range clients {
		c.Write([]byte("x"))
		servers[i].SetReadDeadline(time.Now().Add(10 * time.Second))
		var b [1]byte
		if _, err := io.ReadFull(servers[i], b[:]); err != nil {
			t.Fatalf("connection %d after idling: %v", i, err)
		}
	}
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}
