package run

import (
	"syscall"
	"testing"
)

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]syscall.Signal{
		"9": 9, "KILL": syscall.SIGKILL, "kill": syscall.SIGKILL, "SIGKILL": syscall.SIGKILL,
		"USR1": syscall.SIGUSR1, "SIGUSR2": syscall.SIGUSR2, "sigterm": syscall.SIGTERM,
		"PIPE": syscall.SIGPIPE, "WINCH": syscall.SIGWINCH, "1": 1, "64": 64, "32": 32,
		"RTMIN": 34, "SIGRTMIN": 34, "RTMIN+3": 37, "rtmin+15": 49, "RTMAX": 64, "RTMAX-2": 62, "SIGRTMAX-14": 50, "CHLD": syscall.SIGCHLD,
	} {
		got, err := ParseSignal(in)
		if err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "65", "-1", "FOO", "SIG", "RTMIN+16", "RTMIN-1", "RTMAX+1", "RTMIN+x", "RTMIN3"} {
		if got, err := ParseSignal(bad); err == nil {
			t.Errorf("ParseSignal(%q) = %d, want an error", bad, got)
		}
	}
}
