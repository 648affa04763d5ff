package userns

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

const (
	// maxID bounds first+count of a map line: ids are 32-bit and
	// (uid_t)-1 is not a valid id, so a range must end below 2^32-1.
	maxID = 1<<32 - 1
	// maxExtents is the kernel's limit on lines per map since Linux 4.15
	// (user_namespaces(7)).
	maxExtents = 340
)

// subRange is one usable /etc/subuid or /etc/subgid line.
type subRange struct{ start, count int }

// DetectFrom works out the mapping for a user from the contents of
// /etc/subuid and /etc/subgid (nil readers count as empty files) and
// whether newuidmap and newgidmap were found. It is the pure part of Detect.
//
// Lines have the form owner:start:count (subuid(5)). As in shadow's
// newuidmap, the owner matches by user name or by numeric uid — in both
// files: /etc/subgid is keyed by the user, not by a group. username may be
// empty when it is unknown (e.g. an LDAP user invisible to a cgo-less
// os/user); then only numeric owners match.
//
// All matching lines are combined, in file order: container ids 1.. go to
// the first range, the next ids to the second, and so on. Malformed lines,
// lines with count 0, ranges that contain the user's own id or overlap an
// earlier range (the kernel rejects overlapping lines) and lines beyond the
// kernel's 340-line limit are ignored.
//
// With a range in both files and haveHelpers the mapping is
// 0→uid (size 1) plus the ranges, and Helper is set. Otherwise it is the
// single mapping 0→uid, 0→gid. The returned reason explains the choice in
// one line for `box info`, including the fix when the mapping is single.
// The error is non-nil only for invalid arguments or a failing reader.
func DetectFrom(uid, gid int, username string, subuid, subgid io.Reader, haveHelpers bool) (Mapping, string, error) {
	if uid < 0 || int64(uid) >= maxID || gid < 0 || int64(gid) >= maxID {
		return Mapping{}, "", fmt.Errorf("detecting id mapping: invalid uid %d or gid %d", uid, gid)
	}
	ub, err := readAll(subuid)
	if err != nil {
		return Mapping{}, "", fmt.Errorf("reading /etc/subuid: %w", err)
	}
	gb, err := readAll(subgid)
	if err != nil {
		return Mapping{}, "", fmt.Errorf("reading /etc/subgid: %w", err)
	}
	uranges, err := readRanges(bytes.NewReader(ub), username, uid)
	if err != nil {
		return Mapping{}, "", fmt.Errorf("reading /etc/subuid: %w", err)
	}
	granges, err := readRanges(bytes.NewReader(gb), username, uid)
	if err != nil {
		return Mapping{}, "", fmt.Errorf("reading /etc/subgid: %w", err)
	}
	uids, gids := helperMaps(uid, uranges), helperMaps(gid, granges)

	who := username
	if who == "" {
		who = "uid " + strconv.Itoa(uid)
	}
	noUID, noGID := len(uids) == 1, len(gids) == 1
	const single = "single mapping, files of other owners become yours"
	const install = "install newuidmap and newgidmap (package uidmap; shadow-utils on Fedora/RHEL)"
	var reason string
	switch {
	case noUID || noGID:
		var files []string
		if noUID {
			files = append(files, "/etc/subuid")
		}
		if noGID {
			files = append(files, "/etc/subgid")
		}
		reason = fmt.Sprintf("no range for %s in %s: %s; fix: %s", who, strings.Join(files, " and "), single, rangeFix(username, uid, noUID, noGID, freeStart(ub, gb)))
		if !haveHelpers {
			reason += ", and " + install
		}
	case !haveHelpers:
		reason = fmt.Sprintf("newuidmap/newgidmap not found on PATH: %s; fix: %s", single, install)
	default:
		m := Mapping{UIDs: uids, GIDs: gids, Helper: true}
		reason = fmt.Sprintf("%d subordinate uids and %d subordinate gids of %s from /etc/subuid and /etc/subgid, written by newuidmap/newgidmap",
			total(uids)-1, total(gids)-1, who)
		return m, reason, nil
	}
	return Mapping{UIDs: []IDMap{{0, uid, 1}}, GIDs: []IDMap{{0, gid, 1}}}, reason, nil
}

// readAll reads r, nil for none.
func readAll(r io.Reader) ([]byte, error) {
	if r == nil {
		return nil, nil
	}
	return io.ReadAll(r)
}

// rangeSize is the size of the range box suggests: 65536, as useradd's.
const rangeSize = 65536

// freeStart is the first start, from 100000 up in steps of 65536, of a
// range no line of either file (any owner's) overlaps: the files' owners
// could reach each other's files through overlapping ranges.
func freeStart(files ...[]byte) int {
	var used []subRange
	for _, b := range files {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Split(strings.TrimSpace(line), ":")
			if len(f) != 3 {
				continue
			}
			start, err1 := strconv.ParseInt(f[1], 10, 64)
			count, err2 := strconv.ParseInt(f[2], 10, 64)
			if err1 == nil && err2 == nil && start >= 0 && count > 0 && start < maxID {
				used = append(used, subRange{int(start), int(min(count, maxID-start))})
			}
		}
	}
	for start := 100000; start+rangeSize < maxID; start += rangeSize {
		free := true
		for _, r := range used {
			if start < r.start+r.count && r.start < start+rangeSize {
				free = false
				break
			}
		}
		if free {
			return start
		}
	}
	return 100000
}

// rangeFix suggests the admin command that adds the missing ranges, from
// start: one no line of /etc/subuid or /etc/subgid has now. The admin
// still has to make sure no one else uses it (another machine's files,
// a directory service).
func rangeFix(username string, uid int, noUID, noGID bool, start int) string {
	span := fmt.Sprintf("%d-%d", start, start+rangeSize-1)
	if username == "" {
		var files []string
		if noUID {
			files = append(files, "/etc/subuid")
		}
		if noGID {
			files = append(files, "/etc/subgid")
		}
		return fmt.Sprintf("ask an admin to add the line %d:%d:%d (a range no one else uses; none of those files has it now) to %s", uid, start, rangeSize, strings.Join(files, " and "))
	}
	cmd := "usermod"
	if noUID {
		cmd += " --add-subuids " + span
	}
	if noGID {
		cmd += " --add-subgids " + span
	}
	return "ask an admin to run " + cmd + " " + username + " (a range no one else uses; none of those files has it now)"
}

// readRanges returns the well-formed lines of a subuid(5) file owned by
// username or uid, in file order.
func readRanges(r io.Reader, username string, uid int) ([]subRange, error) {
	if r == nil {
		return nil, nil
	}
	var out []subRange
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if rg, ok := parseLine(line, username, uid); ok {
			out = append(out, rg)
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func parseLine(line, username string, uid int) (subRange, bool) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return subRange{}, false
	}
	owner, rest, ok1 := strings.Cut(line, ":")
	first, cnt, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || strings.Contains(cnt, ":") {
		return subRange{}, false
	}
	if owner == "" || (owner != username && !ownerIsUID(owner, uid)) {
		return subRange{}, false
	}
	start, err1 := strconv.ParseUint(first, 10, 32)
	count, err2 := strconv.ParseUint(cnt, 10, 32)
	if err1 != nil || err2 != nil || count == 0 || start+count > maxID ||
		int64(int(start)) != int64(start) || int64(int(start+count)) != int64(start+count) {
		return subRange{}, false
	}
	return subRange{int(start), int(count)}, true
}

func ownerIsUID(owner string, uid int) bool {
	n, err := strconv.ParseUint(owner, 10, 32)
	return err == nil && int64(n) == int64(uid)
}

// helperMaps builds own→0 followed by the usable ranges at container ids
// 1, 2, ... (see DetectFrom for what is skipped).
func helperMaps(own int, ranges []subRange) []IDMap {
	maps := []IDMap{{ContainerID: 0, HostID: own, Size: 1}}
	next := int64(1)
outer:
	for _, r := range ranges {
		if len(maps) == maxExtents {
			break
		}
		if next+int64(r.count) > maxID {
			continue
		}
		for _, e := range maps {
			if overlaps(r.start, r.count, e.HostID, e.Size) {
				continue outer
			}
		}
		maps = append(maps, IDMap{ContainerID: int(next), HostID: r.start, Size: r.count})
		next += int64(r.count)
	}
	return maps
}
