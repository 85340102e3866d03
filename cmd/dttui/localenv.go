package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/dttui/dttui/session/localsfu"
)

// writeLocalEnv writes the embedded SFU's URL and keys as LIVEKIT_*
// variables to a file only the user can read, and returns its path.
func writeLocalEnv(s *localsfu.Server) (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	dir = filepath.Join(dir, "dttui")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "local-sfu.env")
	body := fmt.Sprintf("LIVEKIT_URL=%s\nLIVEKIT_API_KEY=%s\nLIVEKIT_API_SECRET=%s\n", s.URL, s.APIKey, s.APISecret)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		return "", err
	}
	return path, os.Chmod(path, 0o600)
}
