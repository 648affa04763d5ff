package run

import (
	"os"
	"os/exec"
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

func TestOrphansCreated(t *testing.T) {
	cs := Containers{Root: t.TempDir()}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	for _, ct := range []*Container{
		// box run --rm killed before its container started.
		{ID: NewID(), Name: "killed", Status: "created", Remove: true, Monitor: dead.Process.Pid, MonStart: 1, BootID: BootID()},
		// box create --rm: waits for box start.
		{ID: NewID(), Name: "made", Status: "created", Remove: true},
		// box run --rm still starting it.
		{ID: NewID(), Name: "starting", Status: "created", Remove: true, Monitor: os.Getpid(), MonStart: StartTime(os.Getpid()), BootID: BootID()},
		// without --rm, kept as docker keeps it.
		{ID: NewID(), Name: "kept", Status: "created", Monitor: dead.Process.Pid, MonStart: 1, BootID: BootID()},
	} {
		if _, err := cs.Create(ct); err != nil {
			t.Fatal(err)
		}
	}
	orphans, err := cs.Orphans()
	if err != nil {
		t.Fatal(err)
	}
	if len(orphans) != 1 || orphans[0].Name != "killed" {
		var names []string
		for _, o := range orphans {
			names = append(names, o.Name)
		}
		t.Errorf("orphans %q, want [killed]", names)
	}
}
