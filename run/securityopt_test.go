package run

import "testing"

func TestCheckSecurityOpts(t *testing.T) {
	for _, ok := range []string{"no-new-privileges", "no-new-privileges=true", "no-new-privileges:true", "no-new-privileges=1", "seccomp=unconfined", "seccomp:unconfined", "apparmor=unconfined", "label=disable", "label:disable"} {
		if err := CheckSecurityOpts([]string{ok}); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"no-new-privileges=false", "no-new-privileges=0", "no-new-privileges=maybe", "seccomp=/etc/profile.json", "apparmor=docker-default", "label=type:svirt_t", "systempaths=unconfined", "bogus"} {
		if err := CheckSecurityOpts([]string{bad}); err == nil {
			t.Errorf("%s taken", bad)
		}
	}
}
