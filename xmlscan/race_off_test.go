//go:build !race

package xmlscan

const raceOn = false
