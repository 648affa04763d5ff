package device

import (
	"encoding/csv"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// gpuKind is the CDI kind --gpus asks for.
const gpuKind = "nvidia.com/gpu"

// gpuRequest is a parsed --gpus: all GPUs, a count, or named ones.
type gpuRequest struct {
	all   bool
	count int
	ids   []string
}

// parseGPUs reads docker's --gpus: all, a count, or comma-separated
// fields count=N|all, device=ID[,ID…] (docker wants it quoted,
// '"device=0,1"'; unquoted, the IDs after the first are taken as more
// devices) and driver=nvidia. capabilities= and options= select what
// nvidia-container-toolkit's legacy hook mounts; with CDI the spec
// decides, so box refuses them rather than ignore them.
func parseGPUs(s string) (gpuRequest, error) {
	var r gpuRequest
	fields, err := csv.NewReader(strings.NewReader(s)).Read()
	if err != nil {
		return r, fmt.Errorf("--gpus %q: %w", s, err)
	}
	bad := func(format string, a ...any) (gpuRequest, error) {
		return gpuRequest{}, fmt.Errorf("--gpus %q: %s", s, fmt.Sprintf(format, a...))
	}
	inDevices := false
	for _, f := range fields {
		key, val, hasVal := strings.Cut(strings.TrimSpace(f), "=")
		switch {
		case !hasVal && inDevices:
			r.ids = append(r.ids, key)
			continue
		case !hasVal:
			key, val = "count", key
		}
		inDevices = false
		switch key {
		case "count":
			if val == "all" {
				r.all = true
				break
			}
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return bad("%q is not all, a count or a field (count=, device=, driver=)", f)
			}
			r.count = n
		case "device":
			r.ids = append(r.ids, strings.Split(val, ",")...)
			inDevices = true
		case "driver":
			if val != "nvidia" {
				return bad("driver %q: box gives NVIDIA GPUs (nvidia.com/gpu); use --device VENDOR/CLASS=NAME for other CDI devices", val)
			}
		case "capabilities", "options":
			return bad("%s= is not supported: the CDI spec decides what a GPU brings", key)
		default:
			return bad("unknown field %q", key)
		}
	}
	if slices.Contains(r.ids, "") {
		return bad("empty device")
	}
	if n := btoi(r.all) + btoi(r.count > 0) + btoi(len(r.ids) > 0); n != 1 {
		return bad("give one of all, a count or device=")
	}
	return r, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// visibleGPUs reads NVIDIA_VISIBLE_DEVICES, else CUDA_VISIBLE_DEVICES:
// the GPUs this job may use (see the package doc), with the variable's
// name and value for messages; limited is false when neither limits them.
func visibleGPUs(lookup func(string) (string, bool)) (ids []string, from string, limited bool) {
	for _, name := range []string{"NVIDIA_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES"} {
		v, ok := lookup(name)
		if !ok {
			continue
		}
		from = fmt.Sprintf("%s=%q", name, v)
		switch v = strings.TrimSpace(v); v {
		case "all":
			return nil, from, false
		case "", "none", "void", "NoDevFiles":
			return nil, from, true
		}
		for _, id := range strings.Split(v, ",") {
			if id = strings.TrimSpace(id); id != "" && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		return ids, from, true
	}
	return nil, "", false
}

// VisibleGPUs says, for box info, which nvidia.com/gpu devices of the
// specs in dirs box may give (see visibleGPUs), and why.
func VisibleGPUs(dirs []string, lookup func(string) (string, bool)) string {
	all := gpuIDs(readSpecs(dirs))
	qualify := func(ids []string) string {
		if len(ids) == 0 {
			return "none"
		}
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = gpuKind + "=" + id
		}
		return strings.Join(out, ", ")
	}
	vis, from, limited := visibleGPUs(lookup)
	if !limited {
		why := "NVIDIA_VISIBLE_DEVICES and CUDA_VISIBLE_DEVICES unset"
		if from != "" {
			why = from
		}
		return fmt.Sprintf("%s (all found: %s)", qualify(all), why)
	}
	var found, missing []string
	for _, id := range vis {
		if slices.Contains(all, id) {
			found = append(found, id)
		} else {
			missing = append(missing, id)
		}
	}
	s := fmt.Sprintf("%s (%s", qualify(found), from)
	if len(missing) > 0 {
		s += "; no CDI device for " + strings.Join(missing, ", ")
	}
	return s + ")"
}
