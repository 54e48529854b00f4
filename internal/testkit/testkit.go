// Package testkit holds what tests of several packages share and no server
// code uses: finding external programs, setting up server pairs. Only tests
// import it.
package testkit

import (
	"os"
	"os/exec"
	"testing"
)

// Chromium is the path of Debian's chromium. Without it the test skips on a
// developer's machine and fails in CI (CI set), so that CI cannot pass
// without it.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "" {
		t.Skip("chromium not installed (apt-get install chromium); CI fails here instead")
	}
	t.Fatal("chromium not installed; CI must install Debian's chromium (.ci/run does)")
	return ""
}
