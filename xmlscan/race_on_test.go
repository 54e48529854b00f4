//go:build race

package xmlscan

// raceOn: under the race detector sync.Pool drops a share of what is put
// back on purpose, so the carry buffer's reuse cannot be counted on.
const raceOn = true
