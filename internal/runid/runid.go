// Package runid names a run: the id that message stamps, result frames,
// result documents and file names all carry, so that it must be safe in
// each of them.
package runid

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// MaxLen is the longest run id accepted.
const MaxLen = 200

// New returns a random run id of 16 hexadecimal digits.
func New() string {
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// Check refuses a run id that cannot travel everywhere a run id goes (a
// header field, a result frame, a file name, a Kubernetes label): it
// must be 1 to MaxLen letters, digits and ". _ : -", and not "-" alone.
func Check(id string) error {
	if id == "" || id == "-" || len(id) > MaxLen {
		return fmt.Errorf("bad run id %q: want 1 to %d characters",
			id, MaxLen)
	}
	for _, c := range []byte(id) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z',
			'0' <= c && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return fmt.Errorf("bad run id %q: use letters, digits "+
				"and . _ : - only", id)
		}
	}
	return nil
}
