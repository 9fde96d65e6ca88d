// Package interop_test runs go-smtp-source beside Postfix's own
// smtp-source against Postfix's smtp-sink and a private Postfix MTA, and
// checks that the drop-in behaves the same: exit status, stdout, stderr
// and the transactions the sink received.
//
// Set GO_SMTP_SOURCE_BIN to test another binary (with
// GO_SMTP_SOURCE_BIN=/usr/sbin/smtp-source the suite checks itself:
// Postfix against Postfix must agree on every row).
package interop_test

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
)

// ipv6Loopback reports whether the kernel has a usable ::1.
func ipv6Loopback() bool {
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// closedPort returns a 127.0.0.1 address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return "127.0.0.1:" + strconv.Itoa(port)
}

// sameText reports a difference between two texts, or "" when equal:
// the first differing line and both texts in full.
func sameText(what, postfix, ours string) string {
	if postfix == ours {
		return ""
	}
	pl := strings.Split(postfix, "\n")
	ol := strings.Split(ours, "\n")
	i := 0
	for i < len(pl) && i < len(ol) && pl[i] == ol[i] {
		i++
	}
	line := func(l []string) string {
		if i < len(l) {
			return fmt.Sprintf("%q", l[i])
		}
		return "(end)"
	}
	return fmt.Sprintf("%s differs at line %d:\n  postfix: %s\n  ours:    %s\n"+
		"--- postfix:\n%s\n--- ours:\n%s", what, i+1, line(pl), line(ol),
		postfix, ours)
}

// sameList is sameText for sorted lists, one element after another.
func sameList(what string, postfix, ours []string) string {
	if len(postfix) != len(ours) {
		return fmt.Sprintf("%s: postfix has %d, ours %d\n%s", what,
			len(postfix), len(ours), sameText(what,
				strings.Join(postfix, "\n----\n"),
				strings.Join(ours, "\n----\n")))
	}
	for i := range postfix {
		if d := sameText(fmt.Sprintf("%s #%d", what, i+1),
			postfix[i], ours[i]); d != "" {
			return d
		}
	}
	return ""
}
