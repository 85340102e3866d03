//go:build unix

package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// ownedByUs checks that fi (of the opened directory) belongs to this user.
func ownedByUs(dir string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s: cannot tell its owner", dir)
	}
	if int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s belongs to another user (uid %d)", dir, st.Uid)
	}
	return nil
}

// safeAncestors checks every directory above dir (symlinks resolved):
// another user who could rename entries in one of them could swap dir for
// a directory of theirs after it was checked, and the path dttui prints
// for sourcing would then lead to their file. Each must belong to root or
// this user and be writable by no one else, unless sticky (like /tmp,
// where others cannot rename what is ours).
func safeAncestors(dir string) error {
	p, err := filepath.EvalSymlinks(filepath.Dir(dir))
	if err != nil {
		return err
	}
	for {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		switch {
		case !ok:
			return fmt.Errorf("%s: cannot tell its owner", p)
		case st.Uid != 0 && int(st.Uid) != os.Geteuid():
			return fmt.Errorf("%s belongs to another user (uid %d)", p, st.Uid)
		case fi.Mode().Perm()&0o022 != 0 && fi.Mode()&fs.ModeSticky == 0:
			return fmt.Errorf("%s can be written by other users (mode %04o)", p, fi.Mode().Perm())
		}
		parent := filepath.Dir(p)
		if parent == p {
			return nil
		}
		p = parent
	}
}
