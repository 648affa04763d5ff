package run

import "testing"

func TestParseSecurityOpts(t *testing.T) {
	for _, c := range []struct {
		opts []string
		nnp  bool
	}{
		{nil, false},
		{[]string{"no-new-privileges"}, true},
		{[]string{"no-new-privileges=true"}, true},
		{[]string{"no-new-privileges:true"}, true},
		{[]string{"no-new-privileges=1"}, true},
		{[]string{"no-new-privileges=false"}, false},
		{[]string{"no-new-privileges", "no-new-privileges=false"}, false},
		{[]string{"no-new-privileges=false", "no-new-privileges"}, true},
		{[]string{"seccomp=unconfined"}, false},
		{[]string{"seccomp:unconfined", "no-new-privileges"}, true},
		{[]string{"apparmor=unconfined"}, false},
		{[]string{"label=disable"}, false},
		{[]string{"label:disable"}, false},
		{[]string{"systempaths=unconfined"}, false},
	} {
		nnp, err := ParseSecurityOpts(c.opts)
		if err != nil || nnp != c.nnp {
			t.Errorf("%q: no_new_privs %v, %v; want %v", c.opts, nnp, err, c.nnp)
		}
	}
	for _, bad := range []string{"no-new-privileges=maybe", "seccomp=/etc/profile.json", "apparmor=docker-default", "label=type:svirt_t", "systempaths=confined", "bogus"} {
		if _, err := ParseSecurityOpts([]string{bad}); err == nil {
			t.Errorf("%s taken", bad)
		}
	}
}
