package e2e

import (
	"bytes"
	"crypto/rand"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"ignis/internal/server"
	"ignis/internal/servertest"
	"ignis/jid"
)

const nsUpload = "urn:xmpp:http:upload:0"

var putRe = regexp.MustCompile(`<put url='([^']+)'/><get url='([^']+)'/>`)

// requestSlot asks for a slot and returns its PUT and GET URLs.
func requestSlot(s *stream, id, name string, size int, typ string) (put, get string) {
	s.t.Helper()
	s.send("<iq type='get' id='" + id + "' to='upload.localhost'><request xmlns='" + nsUpload + "' filename='" + name +
		"' size='" + strconv.Itoa(size) + "' content-type='" + typ + "'/></iq>")
	s.expect("<iq type='result' id='" + id + "'")
	m := putRe.FindStringSubmatch(s.expect("</iq>"))
	if m == nil {
		s.t.Fatalf("no slot in the answer to %s", id)
	}
	return m[1], m[2]
}

// TestUpload: XEP-0363 over real sockets. The service and its max-file-size
// are in disco; a slot's PUT over HTTPS (the server's certificate) stores the
// file and its GET returns it with its type; a request over max_file_size
// gets <file-too-large/>, one past the user's quota <resource-constraint/>;
// a PUT of the wrong size or to an unknown slot is refused; an expired file
// is gone and its bytes are given back.
func TestUpload(t *testing.T) {
	env := servertest.Start(t, func(c *server.Config) {
		c.Upload.Enabled = true
		c.Upload.Listen = "127.0.0.1:0"
		c.Upload.MaxFileSize = 1 << 20
		c.Upload.Quota = 1<<20 + 100
		c.Upload.Expiry = server.Duration{Duration: time.Hour}
	})
	env.AddUser("alice", "pw")
	a := rawStream(t, env, "alice", "r")
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: env.ClientTLS()}, Timeout: 10 * time.Second}

	a.send("<iq type='get' id='d1' to='upload.localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	a.expect("<identity category='store' type='file' name='HTTP File Upload'/>")
	a.expect("<feature var='" + nsUpload + "'/><x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'><value>" + nsUpload +
		"</value></field><field var='max-file-size'><value>1048576</value></field></x>")

	file := make([]byte, 700<<10)
	rand.Read(file)
	put, get := requestSlot(a, "s1", "photo 1.jpg", len(file), "image/jpeg")
	if put != get || !regexp.MustCompile(`^https://localhost:\d+/upload/[0-9a-f]{36}/photo%201.jpg$`).MatchString(put) {
		t.Fatalf("slot urls %s %s", put, get)
	}
	do := func(method, u string, body []byte, typ string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, u, bytes.NewReader(body))
		if typ != "" {
			req.Header.Set("Content-Type", typ)
		}
		res, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, u, err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res
	}
	if res := do("PUT", put, file[:100], "image/jpeg"); res.StatusCode != http.StatusBadRequest {
		t.Errorf("PUT of the wrong size: %s", res.Status)
	}
	if res := do("PUT", put, file, "image/jpeg"); res.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %s", res.Status)
	}
	if res := do("PUT", put, file, "image/jpeg"); res.StatusCode != http.StatusForbidden {
		t.Errorf("a second PUT: %s", res.Status)
	}
	res := do("GET", get, nil, "")
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !bytes.Equal(body, file) || res.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("GET: %s, %d bytes, type %q", res.Status, len(body), res.Header.Get("Content-Type"))
	}
	if res := do("GET", get[:len(get)-5]+"x.jpg", nil, ""); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET of another name: %s", res.Status)
	}

	// too large: the XEP's error with the limit
	a.send("<iq type='get' id='s2' to='upload.localhost'><request xmlns='" + nsUpload + "' filename='big.bin' size='2000000'/></iq>")
	a.expect("<error type='modify'><not-acceptable xmlns='" + nsStanzas + "'/><text xmlns='" + nsStanzas +
		"' xml:lang='en'>file too large</text><file-too-large xmlns='" + nsUpload + "'><max-file-size>1048576</max-file-size></file-too-large></error>")
	// over the quota (700 KiB stored, 1 MiB + 100 allowed)
	a.send("<iq type='get' id='s3' to='upload.localhost'><request xmlns='" + nsUpload + "' filename='more.bin' size='400000'/></iq>")
	a.expect("<iq type='error' id='s3' from='upload.localhost' to='alice@localhost/r'><error type='wait'><resource-constraint xmlns='" + nsStanzas + "'/>")
	// a bad name
	a.send("<iq type='get' id='s4' to='upload.localhost'><request xmlns='" + nsUpload + "' filename='../etc/passwd' size='10'/></iq>")
	a.expect("<iq type='error' id='s4' from='upload.localhost' to='alice@localhost/r'><error type='modify'><bad-request xmlns='" + nsStanzas + "'/>")

	// expiry: the file goes and its bytes come back
	up := env.Srv.Upload()
	alice := jid.MustParse("alice@localhost")
	if u := up.Usage(alice); u != int64(len(file)) {
		t.Errorf("usage %d, want %d", u, len(file))
	}
	up.Sweep(time.Now().Add(2 * time.Hour))
	if res := do("GET", get, nil, ""); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET after expiry: %s", res.Status)
	}
	if u := up.Usage(alice); u != 0 {
		t.Errorf("usage after expiry %d, want 0", u)
	}
	requestSlot(a, "s5", "more.bin", 400000, "")
}
