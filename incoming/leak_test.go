package incoming

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine a test starts, through the package's code, has ended
// when the tests end, as in outgoing: each has an owner that stops it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
