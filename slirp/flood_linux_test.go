package slirp

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// The flood test: a container floods its network, and Serve stays within
// the budget of budget.go while what the container established before
// keeps working.

const (
	sharedEnv = "BOX_SLIRP_TEST_SHARED" // the directory parent and child signal through
	sinkEnv   = "BOX_SLIRP_TEST_SINK"   // the host's UDP sink
	echoEnv   = "BOX_SLIRP_TEST_ECHO"   // the host's echo server
)

// Flood sizes, well past the limits.
const (
	floodUDP = 5 * maxUDPFlows
	floodTCP = 2 * maxTCPFlows
	floodDNS = 10 * maxDNSInFlight
)

func init() { scenarios["flood"] = scenarioFlood }

func TestFlood(t *testing.T) {
	// Host side: a server that never reads and writes until it stalls, an
	// echo server, a UDP sink, and DNS upstreams of which the first never
	// answers (every query is in flight for upstreamTimeout).
	stall, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stall.Close()
	var held sync.Map
	var accepted atomic.Int64
	go func() {
		for {
			c, err := stall.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			held.Store(c, nil)
			go fill(c)
		}
	}()
	defer held.Range(func(c, _ any) bool { c.(net.Conn).Close(); return true })
	echo, _ := tcpEcho(t)
	sink, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	go io.Copy(io.Discard, struct{ io.Reader }{packetReader{sink}})
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go io.Copy(io.Discard, struct{ io.Reader }{packetReader{silent}})

	cfg := DefaultConfig()
	cfg.AllowHostLoopback = true
	cfg.DNS = []string{silent.LocalAddr().String(), startDNSServer(t)}
	shared := t.TempDir()
	os.Chmod(shared, 0o777)

	// What Serve holds during the flood, measured in this process: the
	// descriptors, and the live heap and goroutine stacks.
	type usage struct{ fds, mem int }
	now := func() usage {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return usage{openFDs(t), int(ms.HeapAlloc + ms.StackInuse)}
	}
	before := now()
	during := make(chan usage, 1)
	go func() {
		if waitFile(filepath.Join(shared, "flooded"), 2*time.Minute) != nil {
			during <- usage{}
			return
		}
		during <- now()
		os.WriteFile(filepath.Join(shared, "measured"), nil, 0o644)
	}()
	r := runChild(t, cfg, "flood", hostAliasTarget(stall.Addr()),
		sharedEnv+"="+shared, sinkEnv+"="+hostAliasTarget(sink.LocalAddr()), echoEnv+"="+hostAliasTarget(echo.Addr()))
	r.mustSucceed(t)
	u := <-during
	fds, mem := u.fds-before.fds, (u.mem-before.mem)>>20
	t.Logf("during the flood: %d more descriptors, %d MiB more heap and stacks, %d stalled connections accepted\n%s", fds, mem, accepted.Load(), r.stderr)
	// Both ends of every TCP flow are in this process, and the stalling
	// server's goroutines and buffers.
	if max := maxUDPFlows + 2*maxTCPFlows + maxDNSInFlight + 64; fds > max {
		t.Errorf("%d more descriptors during the flood, want at most %d", fds, max)
	}
	if n := accepted.Load(); n > maxTCPFlows {
		t.Errorf("the host accepted %d connections, want at most %d", n, maxTCPFlows)
	}
	if max := 48; mem > max {
		t.Errorf("%d MiB more heap and stacks during the flood, want at most %d", mem, max)
	}
}

// scenarioFlood opens an echo connection, floods (stalled TCP connections
// to target, UDP flows to the sink, DNS queries), says so, and once the
// parent has measured checks the echo connection and DNS.
func scenarioFlood(target string) error {
	shared := os.Getenv(sharedEnv)
	keeper, err := net.DialTimeout("tcp", os.Getenv(echoEnv), 10*time.Second)
	if err != nil {
		return err
	}
	defer keeper.Close()
	if err := echo(keeper, "before"); err != nil {
		return err
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	var connected atomic.Int64
	for range floodTCP {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", target, 10*time.Second)
			if err != nil {
				return
			}
			connected.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			fill(c)
		}()
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()

	sink, err := net.ResolveUDPAddr("udp", os.Getenv(sinkEnv))
	if err != nil {
		return err
	}
	for i := range floodUDP {
		c, err := net.DialUDP("udp", &net.UDPAddr{Port: 20000 + i}, sink)
		if err != nil {
			return err
		}
		c.Write([]byte("flood"))
		c.Close()
	}
	dns, err := net.Dial("udp", net.JoinHostPort(DefaultConfig().Gateway.String(), "53"))
	if err != nil {
		return err
	}
	for i := range floodDNS {
		q, _ := dnsQuery(uint16(i), fmt.Sprintf("flood-%d.box.test.", i))
		dns.Write(q)
	}
	dns.Close()
	fmt.Fprintf(os.Stderr, "%d of %d TCP connections made, %d UDP flows, %d DNS queries\n", connected.Load(), floodTCP, floodUDP, floodDNS)

	os.WriteFile(filepath.Join(shared, "flooded"), nil, 0o644)
	if err := waitFile(filepath.Join(shared, "measured"), time.Minute); err != nil {
		return err
	}
	if err := echo(keeper, "after the flood"); err != nil {
		return fmt.Errorf("the connection made before the flood: %w", err)
	}
	return lookup("udp")
}

// fill writes to c until a write stalls for half a second, never reading.
func fill(c net.Conn) {
	buf := make([]byte, 4<<10)
	for {
		c.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
		if _, err := c.Write(buf); err != nil {
			return
		}
	}
}

// packetReader reads datagrams as a stream, for io.Copy into a sink.
type packetReader struct{ net.PacketConn }

func (p packetReader) Read(b []byte) (int, error) {
	n, _, err := p.ReadFrom(b)
	return n, err
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func waitFile(path string, d time.Duration) error {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
	}
	return errors.New(path + " did not appear")
}

// dnsQuery is an A query for name.
func dnsQuery(id uint16, name string) ([]byte, error) {
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, RecursionDesired: true})
	b.StartQuestions()
	n, err := dnsmessage.NewName(name)
	if err != nil {
		return nil, err
	}
	b.Question(dnsmessage.Question{Name: n, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
	return b.Finish()
}
