package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/dttui/dttui/session/localsfu"
)

// hostileSecret would run a command if the file quoted it badly.
const hostileSecret = `x$(touch pwned)'y"; touch pwned2 #` + "0123456789abcdef0123456789"

func fakeServer() *localsfu.Server {
	return &localsfu.Server{URL: "ws://127.0.0.1:7880", APIKey: "dttuikey", APISecret: hostileSecret, Port: 7880}
}

// checkPrivate asserts the file is 0600 in a 0700 directory of ours.
func checkPrivate(t *testing.T, path string) {
	t.Helper()
	for p, mode := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode || fi.Mode()&os.ModeSymlink != 0 {
			t.Fatalf("%s: mode %v, want %04o", p, fi.Mode(), mode)
		}
		if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != os.Geteuid() {
			t.Fatalf("%s belongs to uid %d", p, st.Uid)
		}
	}
}

// The file is private, one per instance, sourced by sh without running
// anything in its values, and removed with its instance.
func TestCredentialsFileIsPrivateQuotedAndRemoved(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	e, err := writeLocalEnv(fakeServer())
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cache, "dttui", "local-sfu-7880.env"); e.Path != want {
		t.Fatalf("path %s, want %s", e.Path, want)
	}
	checkPrivate(t, e.Path)
	work := t.TempDir()
	cmd := exec.Command("sh", "-c", `set -a; . "$1"; set +a; printf %s "$LIVEKIT_API_SECRET|$LIVEKIT_URL|$LIVEKIT_API_KEY"`, "sh", e.Path)
	cmd.Dir = work
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sourcing: %v\n%s", err, out)
	}
	if want := hostileSecret + "|ws://127.0.0.1:7880|dttuikey"; string(out) != want {
		t.Fatalf("sourced %q, want %q", out, want)
	}
	if entries, _ := os.ReadDir(work); len(entries) != 0 {
		t.Fatalf("sourcing the file ran commands: %v", entries)
	}
	if err := e.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(e.Path); !os.IsNotExist(err) {
		t.Fatalf("still there after Remove: %v", err)
	}
}

// Directories dttui must not write to: another user's (pre-created where
// dttui would look), one reached through a symlink, one under a directory
// others can write to. Each time the file goes to a fresh directory of
// our own instead, and nothing lands in theirs.
func TestCredentialsFileAvoidsOthersDirectories(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, cache string) (theirs string)
	}{
		{"another user's", func(t *testing.T, cache string) string {
			if os.Geteuid() != 0 {
				t.Skip("needs root to make a directory another user owns")
			}
			d := filepath.Join(cache, "dttui")
			mustMkdir(t, d, 0o777)
			if err := os.Chown(d, 65534, 65534); err != nil {
				t.Fatal(err)
			}
			return d
		}},
		{"a symlink", func(t *testing.T, cache string) string {
			theirs := t.TempDir()
			if err := os.Symlink(theirs, filepath.Join(cache, "dttui")); err != nil {
				t.Fatal(err)
			}
			return theirs
		}},
		{"under a shared directory", func(t *testing.T, cache string) string {
			if err := os.Chmod(cache, 0o777); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(cache, "dttui")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := filepath.Join(t.TempDir(), "cache")
			mustMkdir(t, cache, 0o700)
			tmp := t.TempDir()
			t.Setenv("XDG_CACHE_HOME", cache)
			t.Setenv("TMPDIR", tmp)
			theirs := tc.setup(t, cache)
			e, err := writeLocalEnv(fakeServer())
			if err != nil {
				t.Fatal(err)
			}
			defer e.Remove()
			if !strings.HasPrefix(e.Path, tmp+"/dttui-") {
				t.Fatalf("written to %s, not a fresh directory under %s", e.Path, tmp)
			}
			checkPrivate(t, e.Path)
			if entries, _ := os.ReadDir(theirs); len(entries) != 0 {
				t.Fatalf("wrote into %s: %v", theirs, entries)
			}
		})
	}
}

// With HOME and XDG_CACHE_HOME unset, main fell back to /tmp/dttui and
// reused it when another user had made it first, secret included. Now the
// file goes to a directory made fresh, under a random name, removed with
// the file.
func TestCredentialsFileWithoutHome(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("HOME", "")
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("TMPDIR", tmp)
	old := filepath.Join(tmp, "dttui") // main's fixed fallback, prepared by "another user"
	mustMkdir(t, old, 0o777)
	if os.Geteuid() == 0 {
		if err := os.Chown(old, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	e, err := writeLocalEnv(fakeServer())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(e.Path, tmp+"/dttui-") {
		t.Fatalf("written to %s", e.Path)
	}
	checkPrivate(t, e.Path)
	if entries, _ := os.ReadDir(old); len(entries) != 0 {
		t.Fatalf("wrote into %s: %v", old, entries)
	}
	if err := e.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(e.Path)); !os.IsNotExist(err) {
		t.Fatalf("the directory made for the file is still there: %v", err)
	}
}

// With no safe place at all, nothing is written and the error says why.
func TestCredentialsFileNowhereSafe(t *testing.T) {
	t.Setenv("HOME", "")
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("TMPDIR", "/nonexistent/dttui-test")
	if _, err := writeLocalEnv(fakeServer()); err == nil || !strings.Contains(err.Error(), "no private directory") {
		t.Fatalf("err = %v", err)
	}
}

func mustMkdir(t *testing.T, d string, mode os.FileMode) {
	t.Helper()
	if err := os.Mkdir(d, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

// The UI pins the embedded SFU's credentials file by its absolute path,
// not as ~/…: the home of whoever reads the line may not be this
// process's.
func TestPinnedCredentialsFileIsAbsolute(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	path := filepath.Join(home, ".cache", "dttui", "local-sfu-7880.env")
	info := localSFUInfo(&localsfu.Server{URL: "ws://127.0.0.1:7880", APIKey: "k"}, path)
	if info.EnvFile != path || !filepath.IsAbs(info.EnvFile) {
		t.Fatalf("pinned %q, want %q", info.EnvFile, path)
	}
}
