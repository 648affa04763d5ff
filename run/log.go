package run

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	units "github.com/docker/go-units"
)

// A detached container's output is kept in container.log in its directory,
// one record per line: "TIME STREAM TEXT", TIME in RFC 3339 with
// nanoseconds, STREAM stdout or stderr, followed by "+" when the output
// had no newline there: the last line the container wrote without one, or
// a line longer than 64 KiB, cut (docker's partial messages). box logs
// prints such a record without a newline, so the output comes back as
// it was written. At MaxLogSize the file is rotated
// once, to container.log.1, so a chatty service never fills the disk.

// LogName is the log's file name in the container's directory.
const LogName = "container.log"

// MaxLogSize is where the log rotates.
var MaxLogSize int64 = 10 << 20

// LogConfig is a container's --log-driver and --log-opt (nil: the
// defaults: box's file, MaxLogSize, two files).
type LogConfig struct {
	// Driver is "none" (nothing kept: box logs refuses, as docker's) or
	// what box keeps for any other it accepts (json-file, local,
	// k8s-file: its own file, which box logs reads as docker's would).
	Driver  string `json:"driver,omitempty"`
	MaxSize int64  `json:"maxSize,omitempty"` // bytes before the file rotates (0: MaxLogSize)
	MaxFile int    `json:"maxFile,omitempty"` // files kept, the current one included (0: 2)
}

// Files are the log's files that may hold records, oldest first.
func (c *LogConfig) Files(path string) []string {
	n := 2
	if c != nil && c.MaxFile > 0 {
		n = c.MaxFile
	}
	var out []string
	for i := n - 1; i >= 1; i-- {
		out = append(out, fmt.Sprintf("%s.%d", path, i))
	}
	return append(out, path)
}

// ParseLogFlags checks --log-driver and --log-opt: nil for the defaults.
func ParseLogFlags(driver string, opts []string) (*LogConfig, error) {
	c := &LogConfig{Driver: driver}
	switch driver {
	case "", "json-file", "local", "k8s-file":
	case "none":
		if len(opts) > 0 {
			return nil, fmt.Errorf("--log-opt %s: the none log driver takes no options", opts[0])
		}
	default:
		return nil, fmt.Errorf("log driver %q is not available: box keeps a file of its own (json-file, local, k8s-file) or none", driver)
	}
	for _, o := range opts {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "max-size":
			n, err := units.RAMInBytes(v)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("--log-opt %s: want a size such as 10m", o)
			}
			c.MaxSize = n
		case "max-file":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("--log-opt %s: want a number of files, at least 1", o)
			}
			c.MaxFile = n
		default:
			return nil, fmt.Errorf("--log-opt %s: box's log takes max-size and max-file", o)
		}
	}
	if *c == (LogConfig{}) {
		return nil, nil
	}
	return c, nil
}

// logFile appends records, rotating at its size.
type logFile struct {
	mu      sync.Mutex
	path    string
	f       *os.File
	size    int64
	max     int64
	files   []string // LogConfig.Files
	discard bool     // --log-driver none
}

func openLog(path string, c *LogConfig) (*logFile, error) {
	l := &logFile{path: path, max: MaxLogSize, files: c.Files(path)}
	if c != nil && c.MaxSize > 0 {
		l.max = c.MaxSize
	}
	if c != nil && c.Driver == "none" {
		l.discard = true
		return l, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	l.f, l.size = f, fi.Size()
	return l, nil
}

func (l *logFile) record(stream string, text []byte) {
	if l.discard {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	line := fmt.Sprintf("%s %s %s\n", time.Now().UTC().Format(time.RFC3339Nano), stream, text)
	if l.size+int64(len(line)) > l.max && l.size > 0 {
		l.f.Close()
		// The oldest goes; each other moves one older (.1 is the newest
		// rotated file).
		for i := 0; i+1 < len(l.files); i++ {
			os.Rename(l.files[i+1], l.files[i])
		}
		if f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err == nil {
			l.f, l.size = f, 0
		}
	}
	n, _ := io.WriteString(l.f, line)
	l.size += int64(n)
}

func (l *logFile) Close() error {
	if l.f == nil {
		return nil
	}
	return l.f.Close()
}

// copyLines records what r gives, line by line, until EOF.
func (l *logFile) copyLines(stream string, r io.Reader) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if text, whole := strings.CutSuffix(string(line), "\n"); whole {
			l.record(stream, []byte(strings.TrimSuffix(text, "\r")))
		} else if len(line) > 0 {
			l.record(stream+partialMark, line)
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}

// partialMark follows the stream of a record the output had no newline
// after.
const partialMark = "+"

// LogRecord is one line of a container's log.
type LogRecord struct {
	Time   string
	Stream string // stdout or stderr
	Text   string
	// Partial: the output had no newline after Text.
	Partial bool
}

// ParseLogLine splits a log line into its record.
func ParseLogLine(line string) LogRecord {
	t, rest, _ := strings.Cut(line, " ")
	stream, text, _ := strings.Cut(rest, " ")
	stream, partial := strings.CutSuffix(stream, partialMark)
	return LogRecord{Time: t, Stream: stream, Text: text, Partial: partial}
}

// Line is the record's text as the container wrote it: with its newline
// unless it had none.
func (r LogRecord) Line() string {
	if r.Partial {
		return r.Text
	}
	return r.Text + "\n"
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
