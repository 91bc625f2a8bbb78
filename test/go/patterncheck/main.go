// Command patterncheck answers, with Go's own regexp packages (the ones the SSM Agent validates
// document parameters with), what the tests in test/documents/ need to know about a pattern:
// whether regexp.Compile accepts it, whether given values match it, and every rune it could ever
// admit. Input on stdin: [{"name","pattern","values":[...]}]; output on stdout: one result per input.
// Standard library only; test/go/pattern-check.ts builds and runs it.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"regexp/syntax"
	"sort"
	"unicode"
)

type input struct {
	Name    string   `json:"name"`
	Pattern string   `json:"pattern"`
	Values  []string `json:"values"`
}

type result struct {
	Name     string `json:"name"`
	Pattern  string `json:"pattern"`
	Compiles bool   `json:"compiles"`
	Error    string `json:"error,omitempty"`
	// Matches[i] is whether Values[i] matches (all false when the pattern does not compile).
	Matches []bool `json:"matches"`
	// Runes: inclusive [lo, hi] ranges of every rune a literal or class of the pattern admits, merged.
	Runes [][2]rune `json:"runes"`
	// AnyChar: the pattern holds `.` (or `(?s).`), which admits every rune.
	AnyChar bool `json:"anyChar"`
}

func main() {
	var inputs []input
	if err := json.NewDecoder(os.Stdin).Decode(&inputs); err != nil {
		fmt.Fprintln(os.Stderr, "patterncheck: input is not a JSON list of {name, pattern, values}:", err)
		os.Exit(2)
	}
	results := make([]result, 0, len(inputs))
	for _, in := range inputs {
		results = append(results, check(in))
	}
	out := json.NewEncoder(os.Stdout)
	if err := out.Encode(results); err != nil {
		fmt.Fprintln(os.Stderr, "patterncheck:", err)
		os.Exit(2)
	}
}

func check(in input) result {
	r := result{Name: in.Name, Pattern: in.Pattern, Matches: make([]bool, len(in.Values)), Runes: [][2]rune{}}
	re, err := regexp.Compile(in.Pattern)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.Compiles = true
	for i, v := range in.Values {
		r.Matches[i] = re.MatchString(v)
	}
	tree, err := syntax.Parse(in.Pattern, syntax.Perl)
	if err != nil { // cannot happen once regexp.Compile accepted it; say so rather than guess
		r.Compiles = false
		r.Error = "syntax.Parse: " + err.Error()
		return r
	}
	var ranges [][2]rune
	walk(tree, &ranges, &r.AnyChar)
	r.Runes = merge(ranges)
	return r
}

// walk collects the runes every literal and character class below re admits.
func walk(re *syntax.Regexp, ranges *[][2]rune, anyChar *bool) {
	switch re.Op {
	case syntax.OpLiteral:
		for _, c := range re.Rune {
			*ranges = append(*ranges, [2]rune{c, c})
			if re.Flags&syntax.FoldCase != 0 {
				for f := unicode.SimpleFold(c); f != c; f = unicode.SimpleFold(f) {
					*ranges = append(*ranges, [2]rune{f, f})
				}
			}
		}
	case syntax.OpCharClass:
		// The parser has already folded a (?i) class into its ranges.
		for i := 0; i+1 < len(re.Rune); i += 2 {
			*ranges = append(*ranges, [2]rune{re.Rune[i], re.Rune[i+1]})
		}
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		*anyChar = true
	}
	for _, sub := range re.Sub {
		walk(sub, ranges, anyChar)
	}
}

func merge(ranges [][2]rune) [][2]rune {
	sort.Slice(ranges, func(i, j int) bool { return ranges[i][0] < ranges[j][0] })
	out := [][2]rune{}
	for _, r := range ranges {
		if n := len(out); n > 0 && r[0] <= out[n-1][1]+1 {
			if r[1] > out[n-1][1] {
				out[n-1][1] = r[1]
			}
			continue
		}
		out = append(out, r)
	}
	return out
}
