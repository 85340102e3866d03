//go:build !race

package session

// raceCPUFactor is 1 without the race detector (see race_on_test.go).
const raceCPUFactor = 1
