package lint

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// rank: a package may import only packages of lower rank (DESIGN.md §3).
// im, the RFC 6121 rules the features share, sits between store and mod.
var rank = map[string]float64{
	"xmlscan": 0, "jid": 0, "scram": 0,
	"stat":    0, // lock-free counters for the metrics endpoint
	"stanza":  1,
	"store":   2,
	"im":      2.5,
	"mod":     3,
	"route":   4,
	"session": 5,
	"proxy65": 5.5, // the XEP-0065 relay: session's Handler on the reactor's loops
	"s2s":     5.5, // server-to-server links: session's transport seam, the router's Remote
	"reactor": 6,
	"web":     5.5, // the web listener: sessions over HTTP, run by the reactor as a listener's handler
	"bench":   2,   // a client: xmlscan, jid, stanza, scram; never the server

	// external components (XEP-0114): a transport of its own beside the
	// client streams, reusing session's Transport and stream id
	"component": 5.5,
}

// forbidden imports in non-test code, with the reason.
var forbidden = map[string]string{
	"encoding/xml": "use xmlscan (tests may use encoding/xml)",
	"log":          "use log/slog",
}

type pkg struct {
	ImportPath string
	Imports    []string
}

// layer names the ranked layer of an import path ("ignis/mod/ping" → "mod/*").
func layer(path string) (name string, feature bool) {
	p := strings.TrimPrefix(path, "ignis/")
	if strings.HasPrefix(p, "mod/") {
		return "mod", true
	}
	if strings.HasPrefix(p, "session/") {
		return "session", false
	}
	return p, false
}

func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "ignis/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	n := 0
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		n++
		from, fromFeature := layer(p.ImportPath)
		fromRank, ranked := rank[from]
		if p.ImportPath == "ignis/session/sasl" {
			fromRank = 1 // pure mechanisms: scram only
		}
		for _, imp := range p.Imports {
			if why, bad := forbidden[imp]; bad {
				t.Errorf("%s imports %s: %s", p.ImportPath, imp, why)
			}
			if !strings.HasPrefix(imp, "ignis/") {
				if from == "xmlscan" && strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
					t.Errorf("xmlscan imports %s: it imports only the standard library", imp)
				}
				continue
			}
			to, toFeature := layer(imp)
			if fromFeature && toFeature {
				t.Errorf("%s imports %s: features share data through store and events through mod hooks", p.ImportPath, imp)
			}
			if !ranked || strings.HasPrefix(imp, "ignis/internal/") {
				if ranked && strings.HasPrefix(imp, "ignis/internal/") {
					t.Errorf("%s imports %s: layers do not use internal wiring", p.ImportPath, imp)
				}
				continue
			}
			toRank, ok := rank[to]
			if imp == "ignis/session/sasl" {
				toRank = 1
			}
			if ok && toRank >= fromRank && from != to {
				t.Errorf("%s (rank %g) imports %s (rank %g): imports go down the layers only", p.ImportPath, fromRank, imp, toRank)
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d packages listed", n)
	}
}
