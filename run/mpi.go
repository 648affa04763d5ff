package run

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/box-run/box/run/proto"
	"golang.org/x/sys/unix"
)

// MPI launched by the host (box run --mpi): srun, mpirun or another
// launcher starts one box per rank and talks to each rank's MPI library
// through the environment and a descriptor or a socket it names. The
// container therefore gets:
//
//   - the launcher's variables: every one named SLURM_*, PMI_*, PMIX_*,
//     OMPI_*, UCX_* or FI_* (-e still overrides);
//   - the descriptor PMI_FD names (Slurm's pmi2), at the same number;
//   - the PMIx server's directories (PMIX_SERVER_TMPDIR,
//     PMIX_SYSTEM_TMPDIR), bound at the same paths, for its sockets;
//   - the host's network (the launcher and the fabric libraries address
//     ranks by the host's interfaces) and the host's IPC namespace with its
//     /dev/shm, so that ranks on one node share memory: each rank's box has
//     a user namespace of its own, but POSIX shared memory is files in the
//     shared /dev/shm, and SysV segments live in the shared IPC namespace.
//     (Cross-memory attach, process_vm_readv, needs ptrace rights across
//     user namespaces and is refused; MPI libraries fall back to copying
//     through shared memory.)

// mpiEnvPrefixes are the launcher's variables --mpi passes on.
var mpiEnvPrefixes = []string{"SLURM_", "PMI_", "PMIX_", "OMPI_", "UCX_", "FI_"}

// mpiDirVars name directories the PMIx server's sockets live in.
var mpiDirVars = []string{"PMIX_SERVER_TMPDIR", "PMIX_SYSTEM_TMPDIR"}

// mpiEnv is the launcher's variables from environ (KEY=VALUE).
func mpiEnv(environ []string) []string {
	var out []string
	for _, kv := range environ {
		for _, p := range mpiEnvPrefixes {
			if strings.HasPrefix(kv, p) && strings.Contains(kv, "=") {
				out = append(out, kv)
				break
			}
		}
	}
	return out
}

// mpiMounts binds the PMIx directories named in the environment that
// exist, each once.
func mpiMounts(lookup func(string) (string, bool)) []proto.Mount {
	var out []proto.Mount
	seen := map[string]bool{}
	for _, v := range mpiDirVars {
		d, ok := lookup(v)
		if !ok || d == "" || !filepath.IsAbs(d) {
			continue
		}
		d = filepath.Clean(d)
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() || seen[d] {
			continue
		}
		seen[d] = true
		out = append(out, proto.Mount{Type: "bind", Source: d, Target: d})
	}
	return out
}

// MPIFDs is the descriptor PMI_FD names, checked to be open, or none.
func MPIFDs(lookup func(string) (string, bool)) ([]int, error) {
	s, ok := lookup("PMI_FD")
	if !ok || s == "" {
		return nil, nil
	}
	fd, err := strconv.Atoi(s)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("--mpi: PMI_FD=%q is not a descriptor number above 2", s)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
		return nil, fmt.Errorf("--mpi: PMI_FD=%d is not open here: %w", fd, err)
	}
	return []int{fd}, nil
}
