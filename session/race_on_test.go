//go:build race

package session

// raceCPUFactor is how much more CPU the race detector lets the same
// work take (its documentation: 2–20×; the hostile-jumps monitor measured
// 11–19 % of a core under it): CPU bounds scale by it.
const raceCPUFactor = 2
