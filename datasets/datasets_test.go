package datasets

import (
	"strconv"
	"strings"
	"testing"
)

func TestGSM8K(t *testing.T) {
	for split, n := range map[string]int{"train": 7473, "test": 1319} {
		p, err := GSM8K(split)
		if err != nil {
			t.Fatal(err)
		}
		if len(p) != n {
			t.Fatalf("%s: %d problems, want %d", split, len(p), n)
		}
	}
	p, _ := GSM8K("train")
	if p[0].Answer != "72" || !strings.HasPrefix(p[0].Question, "Natalia sold clips") {
		t.Fatalf("first problem: %+v", p[0])
	}
	if _, err := GSM8K("dev"); err == nil {
		t.Fatal("unknown split accepted")
	}
}

// TestArithmeticIsCorrect re-evaluates every generated solution line.
func TestArithmeticIsCorrect(t *testing.T) {
	for _, p := range Arithmetic(2000, 1) {
		var last int
		for _, line := range strings.Split(p.Solution, "\n") {
			var a, b, r int
			var op string
			f := strings.Fields(line)
			a, _ = strconv.Atoi(f[0])
			op = f[1]
			b, _ = strconv.Atoi(f[2])
			r, _ = strconv.Atoi(f[4])
			want := map[string]int{"+": a + b, "-": a - b, "*": a * b}[op]
			if r != want {
				t.Fatalf("%q: %s", p.Question, line)
			}
			last = r
		}
		if strconv.Itoa(last) != p.Answer {
			t.Fatalf("answer %s, solution ends with %d", p.Answer, last)
		}
	}
	if a, b := Arithmetic(5, 3), Arithmetic(5, 3); a[4] != b[4] {
		t.Fatal("generator is not reproducible")
	}
}
