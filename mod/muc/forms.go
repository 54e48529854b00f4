package muc

import "ignis/xmlscan"

// formFields reads a submitted data form (XEP-0004) into var → first
// value; a field without a value maps to "".
func formFields(x xmlscan.Elem) map[string]string {
	out := map[string]string{}
	it := x.Children()
	for f, ok := it.Next(); ok; f, ok = it.Next() {
		if string(f.Local()) != "field" || string(f.NS()) != nsData {
			continue
		}
		name, _ := f.Attr("var")
		if _, seen := out[string(name)]; seen || len(name) == 0 {
			continue
		}
		val := ""
		if v := f.Child("value", nsData); !v.IsZero() {
			val = string(v.AppendText(nil))
		}
		out[string(name)] = val
	}
	return out
}

// formBool reads a boolean field's value (XEP-0004 §3.3: "1" or "true").
func formBool(v string) bool { return v == "1" || v == "true" }
