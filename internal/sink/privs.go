package sink

import (
	"fmt"
	"os/user"
	"strconv"
	"syscall"
	"time"
)

// DropPrivileges does what smtp-sink's -R and -u do once the listener
// is open: take the groups of user, change the root directory to root,
// then become user. Either may be empty. Go applies setuid and setgid to
// every thread of the process (Go 1.16 and later on Linux).
//
// Unlike smtp-sink, which ignores -R without -u, root is changed
// whenever it is given.
func DropPrivileges(root, userName string) error {
	// Load the local time zone now: after chroot it may be out of reach,
	// and the dump's Received: header would be in UTC.
	time.Now().Local().Zone()

	var uid, gid int
	if userName != "" {
		u, err := user.Lookup(userName)
		if err != nil {
			return fmt.Errorf("unknown user: %s", userName)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		if err := syscall.Setgid(gid); err != nil {
			return &sysError{fmt.Sprintf("setgid(%d)", gid), err}
		}
		if err := setGroups(u, gid); err != nil {
			return &sysError{"initgroups", err}
		}
	}
	if root != "" {
		if err := syscall.Chroot(root); err != nil {
			return &sysError{"chroot(" + root + ")", err}
		}
		if err := syscall.Chdir("/"); err != nil {
			return &sysError{"chdir(/)", err}
		}
	}
	if userName != "" {
		if err := syscall.Setuid(uid); err != nil {
			return &sysError{fmt.Sprintf("setuid(%d)", uid), err}
		}
	}
	return nil
}

// setGroups is initgroups(3): the user's supplementary groups plus gid.
func setGroups(u *user.User, gid int) error {
	groups := []int{gid}
	ids, _ := u.GroupIds()
	for _, id := range ids {
		if g, err := strconv.Atoi(id); err == nil && g != gid {
			groups = append(groups, g)
		}
	}
	return syscall.Setgroups(groups)
}
