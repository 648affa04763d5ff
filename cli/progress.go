package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/box-run/box/image"
)

// progressWriter shows pull progress; update is called from several goroutines.
type progressWriter interface {
	update(image.Progress)
	finish()
}

type nopProgress struct{}

func (nopProgress) update(image.Progress) {}
func (nopProgress) finish()               {}

// lines prints one line per layer as it completes: for logs and pipes.
type lines struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lines) update(p image.Progress) {
	var what string
	switch p.Status {
	case image.Exists:
		what = "already exists"
	case image.Done:
		what = "pull complete (" + humanBytes(p.Total) + ")"
	default:
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s: %s\n", shortID(p.Layer), what)
}

func (l *lines) finish() {}

// bars redraws a bar per layer and a total line, ten times a second.
type bars struct {
	mu     sync.Mutex
	w      io.Writer
	order  []string
	state  map[string]image.Progress
	start  time.Time
	drawn  int
	stop   chan struct{}
	closed sync.WaitGroup
}

func newBars(w io.Writer) *bars {
	b := &bars{w: w, state: map[string]image.Progress{}, start: time.Now(), stop: make(chan struct{})}
	b.closed.Add(1)
	go func() {
		defer b.closed.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				b.draw()
			case <-b.stop:
				b.draw()
				return
			}
		}
	}()
	return b
}

func (b *bars) update(p image.Progress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.state[p.Layer]; !ok {
		b.order = append(b.order, p.Layer)
	}
	b.state[p.Layer] = p
}

func (b *bars) finish() {
	close(b.stop)
	b.closed.Wait()
}

func (b *bars) draw() {
	b.mu.Lock()
	defer b.mu.Unlock()
	var sb strings.Builder
	if b.drawn > 0 {
		fmt.Fprintf(&sb, "\x1b[%dA", b.drawn)
	}
	elapsed := time.Since(b.start).Seconds()
	var done, total int64
	for _, id := range b.order {
		p := b.state[id]
		done += p.Done
		total += p.Total
		var status string
		switch p.Status {
		case image.Waiting:
			status = "waiting"
		case image.Exists:
			status = "already exists"
		case image.Done:
			status = "pull complete  " + humanBytes(p.Total)
		default:
			status = fmt.Sprintf("%s %8s / %-8s", bar(p.Done, p.Total, 30), humanBytes(p.Done), humanBytes(p.Total))
		}
		fmt.Fprintf(&sb, "\r\x1b[K%s: %s\n", shortID(id), status)
	}
	rate := ""
	if elapsed > 0 {
		rate = humanBytes(int64(float64(done)/elapsed)) + "/s"
	}
	fmt.Fprintf(&sb, "\r\x1b[Ktotal %s / %s  %s\n", humanBytes(done), humanBytes(total), rate)
	b.drawn = len(b.order) + 1
	io.WriteString(b.w, sb.String())
}

func bar(done, total int64, width int) string {
	n := 0
	if total > 0 {
		n = int(done * int64(width) / total)
	}
	n = min(max(n, 0), width)
	return "[" + strings.Repeat("=", n) + strings.Repeat(" ", width-n) + "]"
}

// shortID is the 12 hex digits docker shows for a digest.
func shortID(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}
