package report

import (
	"bytes"
	"context"
	"encoding/xml"
	"image"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
)

// external matches what would make a page load something from
// elsewhere: a src or href with a scheme or a network path, CSS url()
// and @import, and any script.
var external = regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?\s*` +
	`([a-z][a-z0-9+.-]*:|//)|url\(|@import|<script|<link|<iframe`)

func TestHTMLSelfContained(t *testing.T) {
	merged, err := metrics.Merge(shardRun(t, 0, 0), shardRun(t, 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*metrics.Result{
		"typical":  typicalRun(3, 100),
		"troubled": troubledRun(),
		"partial":  merged,
		"empty":    emptyRun(),
	} {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := HTML(&b, r); err != nil {
				t.Fatal(err)
			}
			page := b.String()
			if m := external.FindString(page); m != "" {
				t.Errorf("external reference %q", m)
			}
			if strings.Contains(page, "http://") ||
				strings.Contains(page, "https://") {
				t.Error("page holds a URL")
			}
			checkSVGs(t, page, 4)
		})
	}
}

// checkSVGs checks that the page holds n SVG charts, each well-formed
// XML, each with a title.
func checkSVGs(t *testing.T, page string, n int) {
	t.Helper()
	svgs := regexp.MustCompile(`(?s)<svg .*?</svg>`).FindAllString(page, -1)
	if len(svgs) != n {
		t.Fatalf("%d charts, want %d", len(svgs), n)
	}
	for i, svg := range svgs {
		dec := xml.NewDecoder(strings.NewReader(svg))
		for {
			_, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("chart %d is not well-formed: %v\n%s", i, err, svg)
			}
		}
		if !strings.Contains(svg, `<text class="title"`) {
			t.Errorf("chart %d has no title", i)
		}
	}
}

func TestHTMLContent(t *testing.T) {
	var b bytes.Buffer
	r := troubledRun()
	if err := HTML(&b, r); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{
		"<title>go-smtp-source report: [192.0.2.7]:2525</title>",
		`<p class="warning">WARNING: stopped early: the run is ` +
			`incomplete</p>`,
		"<td>CONNECT refused</td><td>4</td>",
		`<td class="sub">intended</td>`,
		// The phase table's p99 of eod, as the text report shows it.
		"<td>69.00ms</td>",
		// One line per phase seen in the percentile plot, and the
		// throughput lines for accepted messages and errors.
		"<title>starttls</title>",
		"<title>transaction_from_intended</title>",
		`stroke="` + colorAccepted + `"`,
		"<title>error + unknown</title>",
		// The percentile axis goes to 90% for 40 values.
		`>90%</text>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "<title>auth</title>") {
		t.Error("page plots auth, never seen")
	}
}

// TestHTMLEscapes checks that text from the result cannot inject
// markup.
func TestHTMLEscapes(t *testing.T) {
	r := emptyRun()
	r.Config = map[string]any{"target": `<img src="x">`}
	var b bytes.Buffer
	if err := HTML(&b, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "<img") {
		t.Error("the target is not escaped")
	}
}

// chromium is Debian's headless browser; the test runs it when found.
const chromium = "/usr/bin/chromium"

// TestHTMLRendersInChromium opens a report in headless Chromium, takes
// a screenshot and checks that it shows something, charts included.
// The screenshot is kept in $GO_SMTP_SOURCE_ARTIFACTS when set.
func TestHTMLRendersInChromium(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %s is missing: install chromium", chromium)
		}
		t.Skipf("%s is missing (Debian package chromium)", chromium)
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	var b bytes.Buffer
	if err := HTML(&b, typicalRun(5, 60)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	shot := filepath.Join(artifactDir(t), "report-html.png")
	os.Remove(shot)
	screenshot(t, page, shot)
	t.Logf("screenshot: %s", shot)
	checkScreenshot(t, shot)
}

// artifactDir returns where test artifacts are kept.
func artifactDir(t *testing.T) string {
	dir := os.Getenv("GO_SMTP_SOURCE_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func screenshot(t *testing.T, page, out string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox",
		"--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update",
		"--disable-sync", "--user-data-dir="+t.TempDir(),
		"--screenshot="+out, "--window-size=1200,2000", "file://"+page)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, msg)
	}
}

// checkScreenshot checks the PNG's size, that it is not blank, and
// that the throughput line was drawn.
func checkScreenshot(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if got := img.Bounds().Size(); got != image.Pt(1200, 2000) {
		t.Errorf("screenshot is %v, want 1200x2000", got)
	}

	colors := map[[3]uint32]bool{}
	var dark, green int
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			r, g, b = r>>8, g>>8, b>>8
			colors[[3]uint32{r, g, b}] = true
			if r+g+b < 200 {
				dark++
			}
			// colorAccepted, #2ca02c, give or take antialiasing.
			if near(r, 0x2c) && near(g, 0xa0) && near(b, 0x2c) {
				green++
			}
		}
	}
	if len(colors) < 20 || dark < 2000 {
		t.Errorf("screenshot looks blank: %d colours, %d dark pixels",
			len(colors), dark)
	}
	if green < 200 {
		t.Errorf("%d pixels of the throughput line's colour, want 200 "+
			"or more", green)
	}
}

func near(v, want uint32) bool {
	return v+12 >= want && v <= want+12
}
