package mod

import "testing"

// TestForms: extended disco forms come out sorted by FORM_TYPE (the order
// XEP-0115 hashes them in), per scope, and a second form of one type panics.
func TestForms(t *testing.T) {
	r := NewRegistry()
	r.Form(ToServer, InfoForm{Type: "urn:z"})
	r.Form(ToServer|ToAccount, InfoForm{Type: "urn:a"})
	var got []string
	for _, f := range r.Forms(ToServer) {
		got = append(got, f.Type)
	}
	if len(got) != 2 || got[0] != "urn:a" || got[1] != "urn:z" {
		t.Errorf("server forms = %v, want [urn:a urn:z]", got)
	}
	if f := r.Forms(ToAccount); len(f) != 1 || f[0].Type != "urn:a" {
		t.Errorf("account forms = %v", f)
	}
	defer func() {
		if recover() == nil {
			t.Error("a duplicate FORM_TYPE did not panic")
		}
	}()
	r.Form(ToAccount, InfoForm{Type: "urn:a"})
}
