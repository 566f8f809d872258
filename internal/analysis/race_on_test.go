//go:build race

package analysis

// raceEnabled scales the oracle tests down under the race detector; .ci/run
// runs them at full size without it.
const raceEnabled = true
