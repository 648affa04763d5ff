// Package finding is what box system check reports about one thing in the
// store, shared by the image store's check and the containers' check.
package finding

// A Finding is one thing a check found.
type Finding struct {
	Path    string // what it concerns, relative to the store root
	Problem string // what is wrong with it
	// Leftover marks what an interrupted command left behind (staging of a
	// killed pull, a layer whose image was never recorded, the trash of a
	// killed rmi or rm): harmless, and collected by the next such command.
	Leftover bool
	Repaired bool // the check removed it (its Repair option)
}

func (f Finding) String() string {
	s := f.Path + ": " + f.Problem
	switch {
	case f.Repaired:
		return "repaired: " + s
	case f.Leftover:
		return "leftover: " + s
	}
	return s
}
