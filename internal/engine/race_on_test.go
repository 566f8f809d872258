//go:build race

package engine

// raceEnabled scales the heavy tests down under the race detector.
const raceEnabled = true
