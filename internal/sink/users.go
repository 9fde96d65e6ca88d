package sink

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// Users maps user names to plaintext passwords, for real AUTH.
// CRAM-MD5 (RFC 2195) keys its digest with the password itself, so a
// hash would not do. It is read-only once the server has started.
type Users map[string]string

// LoadUsers reads a user file; see ParseUsers for its format.
func LoadUsers(path string) (Users, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth users: %w", err)
	}
	defer f.Close()
	u, err := ParseUsers(f)
	if err != nil {
		return nil, fmt.Errorf("auth users: %s: %w", path, err)
	}
	return u, nil
}

// ParseUsers reads one "user:password" per line. The password is all
// after the first colon, taken as it is, spaces included; a CR before
// the LF is dropped. Blank lines and lines whose first non-blank
// character is "#" are skipped. A user may appear only once, and at
// least one must.
func ParseUsers(r io.Reader) (Users, error) {
	users := Users{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		trimmed := strings.TrimLeft(line, " \t")
		if trimmed == "" || trimmed[0] == '#' {
			continue
		}
		user, pass, ok := strings.Cut(line, ":")
		switch {
		case !ok:
			return nil, fmt.Errorf("line %d: no colon", n)
		case user == "":
			return nil, fmt.Errorf("line %d: empty user name", n)
		}
		if _, dup := users[user]; dup {
			return nil, fmt.Errorf("line %d: user %q again", n, user)
		}
		users[user] = pass
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("no users")
	}
	return users, nil
}
