package reward

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Python's re differs from Go's regexp where Unsloth's patterns depend on it:
//   - \s matches Unicode whitespace (str.isspace) and \d Unicode decimal digits; Go's are ASCII;
//   - without re.MULTILINE, $ matches at the end or before a newline that ends the string; Go's $ only at the end;
//   - re.match anchors at the start; re.search does not.
//
// pyCompile rewrites a Python pattern (flags given separately) into an equivalent Go regexp for the
// constructs these patterns use; it is not a general translator.
func pyCompile(pattern string, multiline, dotall bool) *regexp.Regexp {
	var b strings.Builder
	flags := ""
	if multiline {
		flags += "m"
	}
	if dotall {
		flags += "s"
	}
	if flags != "" {
		b.WriteString("(?" + flags + ")")
	}
	inClass := false
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch {
		case c == '\\' && i+1 < len(pattern):
			n := pattern[i+1]
			i++
			switch n {
			case 's':
				if inClass {
					b.WriteString(`\t\n\v\f\r \x1c-\x1f\x85\p{Z}`)
				} else {
					b.WriteString(`[\t\n\v\f\r \x1c-\x1f\x85\p{Z}]`)
				}
			case 'd':
				if inClass {
					b.WriteString(`\p{Nd}`)
				} else {
					b.WriteString(`\p{Nd}`)
				}
			default:
				b.WriteByte('\\')
				b.WriteByte(n)
			}
		case c == '[' && !inClass:
			inClass = true
			b.WriteByte(c)
		case c == ']' && inClass:
			inClass = false
			b.WriteByte(c)
		case c == '$' && !inClass && !multiline:
			b.WriteString(`(?:\n?\z)`)
		default:
			b.WriteByte(c)
		}
	}
	return regexp.MustCompile(b.String())
}

// pyMatch is re.match: a match that starts at position 0.
func pyMatch(re *regexp.Regexp, s string) []string {
	loc := re.FindStringSubmatchIndex(s)
	if loc == nil || loc[0] != 0 {
		return nil // leftmost-first: if any match started at 0, the leftmost would
	}
	out := make([]string, len(loc)/2)
	for i := range out {
		if loc[2*i] >= 0 {
			out[i] = s[loc[2*i]:loc[2*i+1]]
		}
	}
	return out
}

// pySearch is re.search: the leftmost match anywhere.
func pySearch(re *regexp.Regexp, s string) []string { return re.FindStringSubmatch(s) }

// pyStrip is str.strip(): removes Unicode whitespace at both ends.
func pyStrip(s string) string { return strings.TrimFunc(s, pyIsSpace) }

func pyIsSpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// pyIsDigit is str.isdigit(): non-empty and every character has Numeric_Type Digit or Decimal
// (decimal digits of every script, superscripts and subscripts, circled digits).
func pyIsDigit(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if unicode.IsDigit(r) {
			continue
		}
		switch {
		case r == 0xB2 || r == 0xB3 || r == 0xB9, r >= 0x2070 && r <= 0x2079 && r != 0x2071 && r != 0x2072 && r != 0x2073,
			r >= 0x2080 && r <= 0x2089, r >= 0x2460 && r <= 0x2468, r >= 0x2474 && r <= 0x247C, r >= 0x2488 && r <= 0x2490,
			r >= 0x24F5 && r <= 0x24FD, r == 0x24EA, r == 0x24FF, r >= 0x2776 && r <= 0x277E, r >= 0x2780 && r <= 0x2788,
			r >= 0x278A && r <= 0x2792, r >= 0x1369 && r <= 0x1371, r == 0x19DA:
			continue
		}
		return false
	}
	return true
}

// pyCount is str.count(sub): non-overlapping occurrences.
func pyCount(s, sub string) int { return strings.Count(s, sub) }

// pyLen is len(str): the number of code points.
func pyLen(s string) int { return len([]rune(s)) }

// pySplitLast is s.split(sep)[-1].
func pySplitLast(s, sep string) string {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[i+len(sep):]
	}
	return s
}

// pyFloat is Python's float(str): surrounding whitespace allowed, decimal syntax with optional
// underscores between digits, inf/infinity/nan in any case; hexadecimal is rejected.
func pyFloat(s string) (float64, bool) {
	s = asciiDigits(pyStrip(s))
	if s == "" || strings.ContainsAny(s, "xXpP") && !strings.Contains(strings.ToLower(s), "inf") {
		return 0, false
	}
	if strings.Contains(s, "__") || strings.HasPrefix(s, "_") || strings.HasSuffix(s, "_") {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, true // Python gives inf/0 on overflow/underflow too
		}
		return 0, false
	}
	return f, true
}

// asciiDigits maps Unicode decimal digits (e.g. fullwidth ０) to ASCII, as Python's float() accepts them.
// A digit's value is its offset in its run of consecutive decimal digits, modulo 10.
func asciiDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x80 || !unicode.IsDigit(r) {
			return r
		}
		start := r
		for unicode.IsDigit(start - 1) {
			start--
		}
		return '0' + (r-start)%10
	}, s)
}
