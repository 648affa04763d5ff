package run

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// A detached container's output is kept in container.log in its directory,
// one record per line: "TIME STREAM TEXT", TIME in RFC 3339 with
// nanoseconds, STREAM stdout or stderr. At MaxLogSize the file is rotated
// once, to container.log.1, so a chatty service never fills the disk.

// LogName is the log's file name in the container's directory.
const LogName = "container.log"

// MaxLogSize is where the log rotates.
var MaxLogSize int64 = 10 << 20

// logFile appends records, rotating at MaxLogSize.
type logFile struct {
	mu   sync.Mutex
	path string
	f    *os.File
	size int64
}

func openLog(path string) (*logFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &logFile{path: path, f: f, size: fi.Size()}, nil
}

func (l *logFile) record(stream string, text []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	line := fmt.Sprintf("%s %s %s\n", time.Now().UTC().Format(time.RFC3339Nano), stream, text)
	if l.size+int64(len(line)) > MaxLogSize && l.size > 0 {
		l.f.Close()
		os.Rename(l.path, l.path+".1")
		if f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err == nil {
			l.f, l.size = f, 0
		}
	}
	n, _ := io.WriteString(l.f, line)
	l.size += int64(n)
}

func (l *logFile) Close() error { return l.f.Close() }

// copyLines records what r gives, line by line, until EOF.
func (l *logFile) copyLines(stream string, r io.Reader) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 || err == bufio.ErrBufferFull {
			l.record(stream, []byte(strings.TrimSuffix(strings.TrimSuffix(string(line), "\n"), "\r")))
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}

// LogRecord is one line of a container's log.
type LogRecord struct {
	Time   string
	Stream string
	Text   string
}

// ParseLogLine splits a log line into its record.
func ParseLogLine(line string) LogRecord {
	t, rest, _ := strings.Cut(line, " ")
	stream, text, _ := strings.Cut(rest, " ")
	return LogRecord{Time: t, Stream: stream, Text: text}
}

// lastLogLine is the last line init wrote before failing ("box: exec: …"),
// without its "box: " prefix, which the CLI adds again.
func lastLogLine(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	text := ParseLogLine(lines[len(lines)-1]).Text
	if msg := strings.TrimPrefix(text, "box: "); msg != "" {
		return msg
	}
	return "the container did not start"
}
