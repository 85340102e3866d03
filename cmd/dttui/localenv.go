package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/dttui/dttui/session/localsfu"
)

// The embedded SFU's credentials go to a file rather than the screen, so
// another client can join without the secret ever being displayed. The
// file is only written where no other user can read or swap it: in a
// directory this user owns, mode 0700, reached without following a
// symlink, created exclusively under a temporary name and renamed into
// place. One file per running instance (named for its port), removed when
// dttui exits. When no such directory exists, nothing is written.

// envFile is a written credentials file.
type envFile struct {
	Path string
	root *os.Root
	name string
	// madeDir is a directory made for this file alone, removed with it.
	madeDir string
}

// writeLocalEnv writes the SFU's URL and keys as shell-quoted LIVEKIT_*
// variables, in the user's cache directory (~/.cache/dttui) or, without
// one, in a fresh private directory under the temporary directory.
func writeLocalEnv(s *localsfu.Server) (*envFile, error) {
	var tried []string
	if cache, err := os.UserCacheDir(); err == nil {
		dir := filepath.Join(cache, "dttui")
		root, err := openPrivateDir(dir, true)
		if err == nil {
			return writeEnvIn(root, dir, "", s)
		}
		tried = append(tried, err.Error())
	} else {
		tried = append(tried, err.Error())
	}
	// A directory made now, under a random name, by us: nobody else can
	// have prepared it (a fixed /tmp/dttui could have been).
	dir, err := os.MkdirTemp("", "dttui-")
	if err != nil {
		tried = append(tried, err.Error())
		return nil, fmt.Errorf("no private directory for the credentials file (%s)", strings.Join(tried, "; "))
	}
	root, err := openPrivateDir(dir, false)
	if err != nil {
		_ = os.Remove(dir)
		tried = append(tried, err.Error())
		return nil, fmt.Errorf("no private directory for the credentials file (%s)", strings.Join(tried, "; "))
	}
	return writeEnvIn(root, dir, dir, s)
}

// openPrivateDir opens dir (creating it, and its parents, 0700 if create)
// after checking the directories above it (safeAncestors), and checks, on
// the opened directory itself, that it is what the path named, not a
// symlink, owned by this user and closed to others. A directory of ours
// with looser permissions is tightened.
func openPrivateDir(dir string, create bool) (*os.Root, error) {
	if create {
		if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
			return nil, err
		}
	}
	if err := safeAncestors(dir); err != nil {
		return nil, err
	}
	if create {
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory (a symlink?)", dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	opened, err := root.Stat(".")
	if err == nil && !os.SameFile(fi, opened) {
		err = fmt.Errorf("%s changed while it was checked", dir)
	}
	if err == nil {
		err = ownedByUs(dir, opened)
	}
	if err == nil && opened.Mode().Perm()&0o077 != 0 {
		err = root.Chmod(".", 0o700)
	}
	if err != nil {
		_ = root.Close()
		return nil, err
	}
	return root, nil
}

func writeEnvIn(root *os.Root, dir, madeDir string, s *localsfu.Server) (*envFile, error) {
	name := fmt.Sprintf("local-sfu-%d.env", s.Port)
	tmp := fmt.Sprintf(".%s.%s", name, randomHex(6))
	fail := func(err error) (*envFile, error) {
		_ = root.Remove(tmp)
		_ = root.Close()
		if madeDir != "" {
			_ = os.Remove(madeDir)
		}
		return nil, err
	}
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fail(err)
	}
	body := fmt.Sprintf("# dttui's embedded SFU (pid %d); removed when it exits.\n# set -a; . %s; set +a\nLIVEKIT_URL=%s\nLIVEKIT_API_KEY=%s\nLIVEKIT_API_SECRET=%s\n",
		os.Getpid(), shellQuote(filepath.Join(dir, name)), shellQuote(s.URL), shellQuote(s.APIKey), shellQuote(s.APISecret))
	_, err = f.WriteString(body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmp, name)
	}
	if err != nil {
		return fail(err)
	}
	return &envFile{Path: filepath.Join(dir, name), root: root, name: name, madeDir: madeDir}, nil
}

// Remove deletes the file (and the directory made for it).
func (e *envFile) Remove() error {
	err := e.root.Remove(e.name)
	_ = e.root.Close()
	if e.madeDir != "" {
		if rerr := os.Remove(e.madeDir); err == nil {
			err = rerr
		}
	}
	return err
}

// shellQuote makes v one word for sh, taken literally: nothing in it is
// expanded or run when the file is sourced.
func shellQuote(v string) string { return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'" }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
