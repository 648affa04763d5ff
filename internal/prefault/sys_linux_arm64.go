package prefault

// System call numbers (arm64, the generic table).
const (
	sysRead    = 63
	sysClose   = 57
	sysMincore = 232
	sysMadvise = 233
	sysOpenat  = 56
)
