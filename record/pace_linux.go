package record

import (
	"time"

	"golang.org/x/sys/unix"
)

// fineSleep sleeps d on the kernel's high-resolution timer (nanosleep),
// blocking the calling thread: precise to tens of microseconds where a
// runtime timer is precise to the millisecond.
func fineSleep(d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	_ = unix.Nanosleep(&ts, nil) // interrupted early: the pacer checks the clock and sleeps again
}
