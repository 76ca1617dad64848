package demo

import (
	"fmt"
	"testing"
	"time"
)

func TestSmoke(t *testing.T) {
	for _, c := range []Config{{People: 12, Days: 3}, {}} {
		t0 := time.Now()
		o, err := Generate(c)
		if err != nil {
			t.Fatal(err)
		}
		t1 := time.Now()
		m, err := o.WriteFiles(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println(t1.Sub(t0), time.Since(t1), len(o.actions), len(o.runs), len(o.auth))
		for _, f := range m.Files {
			fmt.Printf("%+v\n", f)
		}
		fmt.Printf("%+v\n", m.Expected)
	}
}
