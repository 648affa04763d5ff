package stage

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/box-run/box/image/layertar"
	"github.com/box-run/box/userns"
)

// Tar writes the directory argument to stdout as a layer tar (see package
// layertar); a second argument is the epoch mtimes are clamped to, in
// seconds.
func Tar(args []string) error {
	if len(args) < 1 || len(args) > 2 {
		return fmt.Errorf("tar stage: want 1 or 2 arguments, got %d", len(args))
	}
	var opts layertar.Options
	if len(args) == 2 {
		sec, err := strconv.ParseInt(args[1], 10, 64)
		if err != nil {
			return fmt.Errorf("tar stage: epoch %q: %w", args[1], err)
		}
		t := time.Unix(sec, 0).UTC()
		opts.Epoch = &t
	}
	bw := bufio.NewWriterSize(os.Stdout, pipeSize)
	if err := layertar.Write(bw, args[0], opts); err != nil {
		return err
	}
	return bw.Flush()
}

// Merged writes to stdout the file system its arguments, directories
// stacked as overlay layers (bottom first), show: layertar.WriteMerged.
func Merged(args []string) error {
	if len(args) < 1 {
		return fmt.Errorf("merged stage: want the layers")
	}
	bw := bufio.NewWriterSize(os.Stdout, pipeSize)
	if err := layertar.WriteMerged(bw, args, layertar.Options{}); err != nil {
		return err
	}
	return bw.Flush()
}

// Tarrer writes layers in the tar stage, inside a user namespace with the
// store's mapping, so that file owners come out as the image's ids and
// every file is readable.
func Tarrer(m userns.Mapping) func(dir string, w io.Writer, opts layertar.Options) error {
	return func(dir string, w io.Writer, opts layertar.Options) error {
		args := []string{dir}
		if opts.Epoch != nil {
			args = append(args, strconv.FormatInt(opts.Epoch.Unix(), 10))
		}
		return tarStage(m, "tar", args, w)
	}
}

// MergedTar writes the file system that dirs, stacked as overlay layers
// (bottom first), show as one tar to w, in the merged stage inside a user
// namespace with the store's mapping: docker export's.
func MergedTar(m userns.Mapping, dirs []string, w io.Writer) error {
	return tarStage(m, "merged", dirs, w)
}

// tarStage runs the stage name, which writes a tar to its stdout, and
// copies that to w.
func tarStage(m userns.Mapping, name string, args []string, w io.Writer) error {
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd := Command(name, args...)
	stderr := &tailBuffer{max: 4096}
	cmd.Stdout, cmd.Stderr = pw, stderr
	if err := userns.Start(cmd, m, 0); err != nil {
		pr.Close()
		pw.Close()
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return fmt.Errorf("%w: %s", err, lastLine(msg))
		}
		return err
	}
	pw.Close()
	_, copyErr := io.Copy(w, bufio.NewReaderSize(pr, pipeSize))
	pr.Close() // a stage still writing gets EPIPE and ends
	err = cmd.Wait()
	if copyErr != nil {
		return copyErr // the stage's error is then the broken pipe
	}
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return fmt.Errorf("%s", lastLine(msg))
		}
		return err
	}
	return nil
}
