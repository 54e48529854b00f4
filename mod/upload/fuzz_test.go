package upload

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ignis/mod/modtest"
)

// FuzzHTTP: whatever a stranger sends the upload listener (method, path,
// Content-Type, Content-Length, body) against one slot (its filename and
// type from the input; "ID" in the path is its id), the answer is never a
// server error; a file is stored only by a PUT of the slot's exact URL,
// size and type, then reads back whole; a refused PUT leaves nothing on
// disk, and nothing lands outside the slot's folder.
func FuzzHTTP(f *testing.F) {
	f.Add("PUT", "/upload/ID/a.txt", "a.txt", "text/plain", "text/plain", []byte("hello"), int8(0))
	f.Add("PUT", "/upload/ID/a.txt", "a.txt", "", "image/png", []byte("hello"), int8(-1))
	f.Add("PUT", "/upload/ID/a%20b%2Fc", "a b", "", "", []byte("x"), int8(0))
	f.Add("PUT", "/upload/ID/..", "..", "", "", []byte("x"), int8(0))
	f.Add("GET", "/upload/ID/a.txt", "a.txt", "", "", []byte{}, int8(0))
	f.Add("DELETE", "/upload/../../etc/passwd", "passwd", "", "", []byte{}, int8(0))
	f.Add("PUT", "/upload/ID/é", "é", "a/b", "a/b", bytes.Repeat([]byte("z"), 300), int8(5))
	h, _ := modtest.Handle(f, "upload")
	dir := f.TempDir()
	m := New(h, Config{Dir: filepath.Join(dir, "up"), MaxFileSize: 1 << 10})
	if err := m.Load(); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, path, name, slotType, ctype string, body []byte, lenDelta int8) {
		id, _ := randomID()
		if goodName(name) && len(body) > 0 && len(body) <= int(m.cfg.MaxFileSize) {
			m.mu.Lock()
			m.slots[id] = &slot{Owner: "alice@localhost", Name: name, Size: int64(len(body)), Type: slotType, Created: time.Now(), expires: time.Now().Add(time.Minute)}
			m.mu.Unlock()
		}
		defer func() {
			m.mu.Lock()
			delete(m.slots, id)
			m.mu.Unlock()
			os.RemoveAll(filepath.Join(m.cfg.Dir, id))
		}()
		req, err := http.NewRequest(method, "http://upload.localhost"+strings.ReplaceAll(path, "ID", id), bytes.NewReader(body))
		if err != nil {
			return
		}
		req.ContentLength = max(int64(len(body))+int64(lenDelta), -1)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		w := httptest.NewRecorder()
		m.ServeHTTP(w, req)
		code := w.Result().StatusCode
		if code >= 500 {
			t.Fatalf("%s %s: %d %q", method, req.URL.Path, code, w.Body.String())
		}
		stored := filepath.Join(m.cfg.Dir, id)
		_, statErr := os.Stat(stored)
		if code != http.StatusCreated {
			if statErr == nil && method == http.MethodPut {
				t.Fatalf("a refused PUT (%d) left %s", code, stored)
			}
		} else {
			if method != http.MethodPut || req.URL.Path != "/upload/"+id+"/"+name || lenDelta != 0 || (slotType != "" && ctype != slotType) {
				t.Fatalf("stored by %s %s (Content-Type %q, length %+d)", method, req.URL.Path, ctype, lenDelta)
			}
			get := httptest.NewRecorder()
			greq, err := http.NewRequest(http.MethodGet, req.URL.String(), nil)
			if err != nil {
				t.Fatal(err)
			}
			m.ServeHTTP(get, greq)
			if got, _ := io.ReadAll(get.Result().Body); get.Code != 200 || !bytes.Equal(got, body) {
				t.Fatalf("GET after PUT: %d, %d bytes of %d", get.Code, len(got), len(body))
			}
		}
		ents, _ := os.ReadDir(m.cfg.Dir)
		for _, e := range ents {
			if e.Name() != id || !e.IsDir() {
				t.Fatalf("%s in the upload folder", e.Name())
			}
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Fatalf("%d entries beside the upload folder", len(ents))
		}
	})
}
