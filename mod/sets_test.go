package mod

import (
	"slices"
	"testing"
)

func TestSets(t *testing.T) {
	type op struct {
		add    bool
		v      string
		wantOK bool
	}
	tests := []struct {
		name string
		max  int
		ops  []op
		want []string
	}{
		{"none", 3, nil, nil},
		{"one", 3, []op{{true, "a", true}}, []string{"a"}},
		{"again", 3, []op{{true, "a", true}, {true, "a", true}}, []string{"a"}},
		{"three", 3, []op{{true, "a", true}, {true, "b", true}, {true, "c", true}}, []string{"a", "b", "c"}},
		{"past the cap", 3, []op{{true, "a", true}, {true, "b", true}, {true, "c", true}, {true, "d", false}}, []string{"a", "b", "c"}},
		{"no cap", 0, []op{{true, "a", true}, {true, "b", true}, {true, "c", true}, {true, "d", true}}, []string{"a", "b", "c", "d"}},
		{"a known one at the cap", 3, []op{{true, "a", true}, {true, "b", true}, {true, "c", true}, {true, "b", true}}, []string{"a", "b", "c"}},
		{"first removed", 3, []op{{true, "a", true}, {true, "b", true}, {true, "c", true}, {false, "a", true}}, []string{"c", "b"}},
		{"middle removed", 3, []op{{true, "a", true}, {true, "b", true}, {true, "c", true}, {false, "b", true}}, []string{"a", "c"}},
		{"only removed", 3, []op{{true, "a", true}, {false, "a", true}}, nil},
		{"unknown removed", 3, []op{{true, "a", true}, {true, "b", true}, {false, "x", true}}, []string{"a", "b"}},
		{"room after removal", 3, []op{{true, "a", true}, {true, "b", true}, {true, "c", true}, {false, "c", true}, {true, "d", true}}, []string{"a", "b", "d"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s Sets[int, string]
			s.Add(2, "other", 0) // another key is left alone
			for _, o := range tc.ops {
				if o.add {
					if ok := s.Add(1, o.v, tc.max); ok != o.wantOK {
						t.Fatalf("add %s: %v, want %v", o.v, ok, o.wantOK)
					}
				} else {
					s.Remove(1, o.v)
				}
			}
			if n := s.Len(1); n != len(tc.want) {
				t.Errorf("len %d, want %d", n, len(tc.want))
			}
			if got := s.Values(1); !slices.Equal(got, tc.want) {
				t.Errorf("values %v, want %v", got, tc.want)
			}
			if got := s.Take(1); !slices.Equal(got, tc.want) {
				t.Errorf("took %v, want %v", got, tc.want)
			}
			if s.Len(1) != 0 || len(s.more) != 0 || s.Keys() != 1 || !slices.Equal(s.Values(2), []string{"other"}) {
				t.Errorf("after take: %v %v", s.one, s.more)
			}
		})
	}
}
