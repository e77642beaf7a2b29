package datasets

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Arithmetic generates grade-school word problems small enough for a tiny model: one or two steps of
// + − × on numbers up to 20, each with a one-line-per-step solution in <reasoning> form.
func Arithmetic(n int, seed uint64) []Problem {
	rng := rand.New(rand.NewPCG(seed, 0xA817))
	out := make([]Problem, n)
	for i := range out {
		out[i] = arithmeticProblem(rng)
	}
	return out
}

var (
	names = []string{"Tom", "Ana", "Sam", "Lily", "Max", "Mia", "Ben", "Zoe", "Leo", "Ivy"}
	items = []string{"apples", "books", "coins", "pens", "cards", "eggs", "stamps", "shells", "rocks", "cups"}
)

func arithmeticProblem(rng *rand.Rand) Problem {
	name, item := names[rng.IntN(len(names))], items[rng.IntN(len(items))]
	a, b, c := 2+rng.IntN(19), 1+rng.IntN(12), 1+rng.IntN(9)
	switch rng.IntN(5) {
	case 0:
		return Problem{Question: fmt.Sprintf("%s has %d %s and gets %d more. How many %s does %s have now?", name, a, item, b, item, name),
			Solution: fmt.Sprintf("%d + %d = %d", a, b, a+b), Answer: fmt.Sprint(a + b)}
	case 1:
		if b > a {
			a, b = b, a
		}
		return Problem{Question: fmt.Sprintf("%s has %d %s and gives away %d. How many %s are left?", name, a, item, b, item),
			Solution: fmt.Sprintf("%d - %d = %d", a, b, a-b), Answer: fmt.Sprint(a - b)}
	case 2:
		a = 2 + rng.IntN(9)
		return Problem{Question: fmt.Sprintf("%s buys %d bags with %d %s in each bag. How many %s does %s buy?", name, a, c, item, item, name),
			Solution: fmt.Sprintf("%d * %d = %d", a, c, a*c), Answer: fmt.Sprint(a * c)}
	case 3:
		s := a + b
		if c > s {
			c = s
		}
		return Problem{Question: fmt.Sprintf("%s has %d %s, finds %d more, then loses %d. How many %s does %s have?", name, a, item, b, c, item, name),
			Solution: fmt.Sprintf("%d + %d = %d\n%d - %d = %d", a, b, s, s, c, s-c), Answer: fmt.Sprint(s - c)}
	default:
		a = 2 + rng.IntN(9)
		p := a * c
		return Problem{Question: fmt.Sprintf("%s has %d boxes of %d %s and %d loose %s. How many %s in total?", name, a, c, item, b, item, item),
			Solution: fmt.Sprintf("%d * %d = %d\n%d + %d = %d", a, c, p, p, b, p+b), Answer: fmt.Sprint(p + b)}
	}
}

// XMLCompletion is the target completion of Unsloth's XML format for a problem.
func XMLCompletion(p Problem) string {
	return "<reasoning>\n" + p.Solution + "\n</reasoning>\n<answer>\n" + p.Answer + "\n</answer>\n"
}

// Countdown generates TinyZero's task: reach the target with the given numbers, each used once,
// with + − × ÷. The answer is a target reachable by construction.
func Countdown(n int, seed uint64) []Problem {
	rng := rand.New(rand.NewPCG(seed, 0xC0DE))
	out := make([]Problem, n)
	ops := []string{"+", "-", "*"}
	for i := range out {
		k := 3 + rng.IntN(2)
		nums := make([]int, k)
		for j := range nums {
			nums[j] = 1 + rng.IntN(20)
		}
		// A random left-to-right expression gives a reachable target.
		expr := fmt.Sprint(nums[0])
		val := nums[0]
		for _, x := range nums[1:] {
			op := ops[rng.IntN(len(ops))]
			switch op {
			case "+":
				val += x
			case "-":
				val -= x
			case "*":
				val *= x
			}
			expr = "(" + expr + " " + op + " " + fmt.Sprint(x) + ")"
		}
		shuffled := append([]int(nil), nums...)
		rng.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
		strs := make([]string, k)
		for j, x := range shuffled {
			strs[j] = fmt.Sprint(x)
		}
		out[i] = Problem{
			Question: fmt.Sprintf("Using the numbers [%s], create an equation that equals %d. You can use + - * / and each number once.", strings.Join(strs, ", "), val),
			Solution: strings.TrimSuffix(strings.TrimPrefix(expr, "("), ")"),
			Answer:   fmt.Sprint(val),
		}
	}
	return out
}
