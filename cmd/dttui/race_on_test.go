//go:build race

package main

// raceDetector says the tests run under the race detector, which slows
// each frame's path 2–20× (its documentation): timing bounds widen.
const raceDetector = true
