package args

import "testing"

func TestCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int
	}{
		{nil, 0},
		{[]string{"run", "alpine"}, 0},
		{[]string{"--debug", "run"}, 1},
		{[]string{"--root", "run", "ps"}, 2}, // "run" is --root's value
		{[]string{"--root=/x", "--config", "c", "images"}, 3},
		{[]string{"--debug", "--root"}, 2}, // a flag missing its value
		{[]string{"-h"}, 1},
	} {
		if got := Command(tc.args); got != tc.want {
			t.Errorf("Command(%q) = %d, want %d", tc.args, got, tc.want)
		}
	}
}
