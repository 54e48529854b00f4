package jid_test

import (
	"fmt"

	"ignis/jid"
)

func ExampleParse() {
	j, err := jid.Parse("Ñandú@EXAMPLE.com./Balcony")
	if err != nil {
		panic(err)
	}
	fmt.Println(j)
	fmt.Println(j.Local(), j.Domain(), j.Resource())
	fmt.Println(j.Bare())
	// Output:
	// ñandú@example.com/Balcony
	// ñandú example.com Balcony
	// ñandú@example.com
}

func ExampleJID_WithResource() {
	full, err := jid.MustParse("juliet@example.com").WithResource("chamber")
	fmt.Println(full, err)
	// Output: juliet@example.com/chamber <nil>
}
