package run

import (
	"os"
	"testing"
	"time"
)

// StartedAt falls back to the start time of init's process, here this
// test's own, for records made before Started was kept.
func TestStartedAt(t *testing.T) {
	now := time.Now()
	self := Container{Pid: os.Getpid(), PidStart: StartTime(os.Getpid()), BootID: BootID()}
	got := self.StartedAt()
	if got.After(now.Add(time.Second)) || got.Before(now.Add(-time.Hour)) {
		t.Errorf("StartedAt of this process = %v, now %v", got, now)
	}
	// Never before the record was made (the clocks differ by a tick).
	later := self
	later.Created = now.Add(time.Minute)
	if got := later.StartedAt(); !got.Equal(later.Created) {
		t.Errorf("StartedAt of a record made after its init started = %v, want %v", got, later.Created)
	}
	started := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		ct   Container
		want time.Time
	}{
		{"recorded", Container{Started: started, PidStart: self.PidStart, BootID: self.BootID}, started},
		{"never started", Container{}, time.Time{}},
		{"another boot", Container{PidStart: self.PidStart, BootID: "other"}, time.Time{}},
	} {
		if got := tc.ct.StartedAt(); !got.Equal(tc.want) {
			t.Errorf("%s: StartedAt = %v, want %v", tc.name, got, tc.want)
		}
	}
}
