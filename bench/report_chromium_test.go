package bench

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ignis/internal/testkit"
)

// The HTML report rendered by headless Chromium (Debian's chromium package,
// which .ci/run installs): the DOM Chromium builds holds the charts, and the
// screenshot shows them. Without chromium the test skips on a developer's
// machine and fails in CI (CI set), so that CI cannot pass without it.
//
// IGNIS_REPORT_PNG=FILE keeps the screenshot for a look.
func TestHTMLReportChromium(t *testing.T) {
	bin := testkit.Chromium(t)

	dir := t.TempDir()
	r, cfg := syntheticResult()
	page := filepath.Join(dir, "report.html")
	if err := r.WriteHTMLFile(page, ReportInfo{Config: cfg, Args: []string{"--scenario", "mix"}}); err != nil {
		t.Fatal(err)
	}
	url := "file://" + page

	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	run := func(profile string, args ...string) []byte {
		t.Helper()
		all := append([]string{
			"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--disable-dev-shm-usage", "--hide-scrollbars", "--force-device-scale-factor=1",
			"--user-data-dir=" + filepath.Join(dir, profile),
		}, args...)
		cmd := exec.CommandContext(ctx, bin, append(all, url)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "HOME="+dir) // keep chromium's dot files out of the real home
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, tail(stderr.String(), 2000))
		}
		t.Logf("chromium %s: %v", args[0], time.Since(start).Round(time.Millisecond))
		return stdout.Bytes()
	}

	// the DOM after Chromium parsed and laid out the page
	dom := string(run("p1", "--dump-dom"))
	if !strings.Contains(dom, "<svg") {
		t.Fatalf("chromium's DOM has no SVG:\n%s", tail(dom, 2000))
	}
	checkCharts(t, dom)

	// the screenshot: not blank, and each chart's line colours are painted
	shot := filepath.Join(dir, "x.png")
	run("p2", "--screenshot="+shot, "--window-size=1200,2000")
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if keep := os.Getenv("IGNIS_REPORT_PNG"); keep != "" {
		b, _ := os.ReadFile(shot)
		_ = os.WriteFile(keep, b, 0o644)
	}
	bounds := img.Bounds()
	if bounds.Dx() != 1200 || bounds.Dy() != 2000 {
		t.Errorf("screenshot is %v, want 1200×2000", bounds.Size())
	}
	colours, painted, dark := paletteCount(img)
	if colours < 64 {
		t.Errorf("screenshot has %d distinct colours: blank or unstyled", colours)
	}
	// text is the only dark ink; an unstyled SVG shape fills black
	if area := bounds.Dx() * bounds.Dy(); dark > area/50 {
		t.Errorf("%d of %d pixels are near black: a shape is filled that should not be", dark, area)
	}
	for _, c := range []string{colBlue, colOrange, colGreen, colRed, colPurple, colSky} {
		// a 2-pixel line through dozens of points paints hundreds of pixels in its exact colour
		if painted[c] < 200 {
			t.Errorf("colour %s painted on %d pixels: a series line is missing from the screenshot", c, painted[c])
		}
	}
	t.Logf("screenshot %v: %d colours, %d near-black pixels; line pixels %v", bounds.Size(), colours, dark, painted)
}

// paletteCount returns the number of distinct colours in img, how many
// pixels have each of the report's line colours exactly, and how many are
// near black.
func paletteCount(img image.Image) (colours int, painted map[string]int, dark int) {
	seen := map[uint32]bool{}
	painted = map[string]int{}
	want := map[uint32]string{}
	for _, c := range []string{colBlue, colOrange, colGreen, colRed, colPurple, colSky, colGrey} {
		want[hexRGB(c)] = c
	}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			k := (r>>8)<<16 | (g>>8)<<8 | bl>>8
			seen[k] = true
			if name, ok := want[k]; ok {
				painted[name]++
			}
			if r>>8 < 0x30 && g>>8 < 0x30 && bl>>8 < 0x30 {
				dark++
			}
		}
	}
	return len(seen), painted, dark
}

func hexRGB(s string) uint32 {
	var v uint32
	for _, c := range strings.TrimPrefix(s, "#") {
		v <<= 4
		switch {
		case c >= '0' && c <= '9':
			v |= uint32(c - '0')
		case c >= 'a' && c <= 'f':
			v |= uint32(c-'a') + 10
		}
	}
	return v
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
