package prefault

// System call numbers (amd64).
const (
	sysRead    = 0
	sysClose   = 3
	sysMincore = 27
	sysMadvise = 28
	sysOpenat  = 257
)
