//go:build !unix

package testsfu

import (
	"errors"
	"time"
)

func lockFile(string, time.Duration) (func(), error) {
	return nil, errors.New("building livekit-server on demand needs flock (unix)")
}
