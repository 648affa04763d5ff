package pid1

import (
	"testing"

	"github.com/box-run/box/run/proto"
)

func TestCheckTmpfs(t *testing.T) {
	for _, opt := range []string{
		"size=1m", "size=64M", "size=0", "size=50%", "size=1k%", "size=0x10k", "size=010", "size=15E",
		"nr_blocks=100", "nr_inodes=1k", "mode=1777", "mode=0700", "mode=+755",
		"uid=1000", "gid=0x10", "uid=010", "uid=+5", "uid=4294967294",
		"huge=within_size", "mpol=bind:0-1", "mpol=interleave=static:0,1", "mpol=local",
		"inode32", "inode64",
		"ro", "noexec", "exec", "nosuid", "dev", "noatime", // flag words, not data
	} {
		if err := CheckTmpfs(proto.Mount{Type: "tmpfs", Target: "/t", Options: []string{opt}}); err != nil {
			t.Errorf("%s: %v", opt, err)
		}
	}
	for opt, want := range map[string]string{
		"size=lots":                   `invalid size "lots"`,
		"size=":                       `invalid size ""`,
		"size":                        `tmpfs option "size" needs a value`,
		"size=1x":                     `invalid size "1x"`,
		"size=1kk":                    `invalid size "1kk"`,
		"size=08":                     `invalid size "08"`,
		"size=0x":                     `invalid size "0x"`,
		"size=-1":                     `invalid size "-1"`,
		"size= 1":                     `invalid size " 1"`,
		"size=1%%":                    `invalid size "1%%"`,
		"size=99999999999999999999":   `invalid size "99999999999999999999"`,
		"size=16384P":                 `invalid size "16384P"`,
		"nr_blocks=10%":               `invalid nr_blocks "10%"`,
		"nr_inodes=many":              `invalid nr_inodes "many"`,
		"mode=999":                    `invalid mode "999"`,
		"mode=":                       `invalid mode ""`,
		"mode=-1":                     `invalid mode "-1"`,
		"mode=++7":                    `invalid mode "++7"`,
		"mode=0x1ff":                  `invalid mode "0x1ff"`,
		"mode=77777777777":            `invalid mode "77777777777"`,
		"uid=-1":                      `invalid uid "-1"`,
		"uid=4294967295":              `invalid uid "4294967295"`,
		"gid=1a":                      `invalid gid "1a"`,
		"gid=":                        `invalid gid ""`,
		"size=1m,2":                   `invalid size "1m,2"`,
		"huge=yes":                    `invalid huge "yes": want never, always, within_size or advise`,
		"mpol=fast":                   `invalid mpol "fast"`,
		"inode64=1":                   `tmpfs option "inode64" takes no value`,
		"noswap":                      `tmpfs option "noswap" is not available in a rootless container`,
		"usrquota_block_hardlimit=1m": `tmpfs option "usrquota_block_hardlimit" is not available in a rootless container`,
		"nosuchopt=1":                 `unknown tmpfs option "nosuchopt=1"`,
		"bogus":                       `unknown tmpfs option "bogus"`,
		"remount":                     `unknown tmpfs option "remount"`,
	} {
		err := CheckTmpfs(proto.Mount{Type: "tmpfs", Target: "/t", Options: []string{"size=1m", opt}})
		if err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", opt, err, want)
		}
	}
}
