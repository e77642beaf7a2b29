// Package report writes the HTML report of a GRPO run: the standard charts, a before/after table of
// sampled completions and the configuration. It draws offline (echarts inlined).
package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"html"
	"math"
	"os"
	"strings"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/charts"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/grpo"
)

// Sample is one completion shown in the report.
type Sample struct {
	Question, Answer, Completion string
	Reward                       float64
}

// Report is what WriteHTML renders.
type Report struct {
	Title         string
	Config        grpo.Config
	Metrics       []map[string]float64 // one row per step, as in metrics.jsonl ("step" included)
	Before, After []Sample
}

// ReadMetrics reads a metrics.jsonl file (null values become NaN).
func ReadMetrics(path string) ([]map[string]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rows []map[string]float64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var raw map[string]*float64
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		row := map[string]float64{}
		for k, v := range raw {
			row[k] = math.NaN()
			if v != nil {
				row[k] = *v
			}
		}
		rows = append(rows, row)
	}
	return rows, sc.Err()
}

// History turns metric rows into chart series keyed by metric name.
func History(rows []map[string]float64) map[string][]charts.Point {
	h := map[string][]charts.Point{}
	for _, r := range rows {
		for k, v := range r {
			if k != "step" {
				h[k] = append(h[k], charts.Point{Step: int(r["step"]), Value: v})
			}
		}
	}
	return h
}

// Summarize compares the mean of `metric` over the first and last `window` steps.
func Summarize(rows []map[string]float64, metric string, window int) string {
	if len(rows) == 0 {
		return "no steps were run"
	}
	w := min(window, len(rows)/2)
	if w == 0 {
		return fmt.Sprintf("%s: %.3f after %d step(s)", metric, rows[len(rows)-1][metric], len(rows))
	}
	first, last := meanOf(rows[:w], metric), meanOf(rows[len(rows)-w:], metric)
	return fmt.Sprintf("%s: mean %.3f over the first %d steps, %.3f over the last %d (%+.3f)", metric, first, w, last, w, last-first)
}

func meanOf(rows []map[string]float64, k string) float64 {
	s, n := 0.0, 0
	for _, r := range rows {
		if v, ok := r[k]; ok && !math.IsNaN(v) {
			s += v
			n++
		}
	}
	return s / float64(max(n, 1))
}

// WriteHTML writes a self-contained page.
func (r *Report) WriteHTML(path string) error {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>" + html.EscapeString(r.Title) + "</title>")
	b.WriteString(`<style>body{font-family:sans-serif;margin:24px;color:#222} .charts{display:flex;flex-wrap:wrap;gap:8px}
table{border-collapse:collapse;margin:8px 0} td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;font-size:13px}
pre{margin:0;white-space:pre-wrap;font-size:12px}</style>`)
	b.WriteString(charts.ScriptTag())
	b.WriteString("</head><body><h1>" + html.EscapeString(r.Title) + "</h1>")
	b.WriteString("<p>" + html.EscapeString(Summarize(r.Metrics, "rewards/correctness_reward_func/mean", 20)) + "<br>" +
		html.EscapeString(Summarize(r.Metrics, "reward", 20)) + "</p>")
	b.WriteString("<div class=\"charts\">")
	for _, c := range charts.Standard("grpo", History(r.Metrics)) {
		b.WriteString("<div>" + c + "</div>")
	}
	b.WriteString("</div>")
	for _, part := range []struct {
		name    string
		samples []Sample
	}{{"Before training", r.Before}, {"After training", r.After}} {
		b.WriteString("<h2>" + part.name + "</h2><table><tr><th>question</th><th>answer</th><th>completion</th><th>reward</th></tr>")
		for _, s := range part.samples {
			fmt.Fprintf(&b, "<tr><td>%s</td><td>%s</td><td><pre>%s</pre></td><td>%.3f</td></tr>", html.EscapeString(s.Question),
				html.EscapeString(s.Answer), html.EscapeString(s.Completion), s.Reward)
		}
		b.WriteString("</table>")
	}
	cfg, _ := json.MarshalIndent(r.Config, "", "  ")
	b.WriteString("<h2>Configuration</h2><pre>" + html.EscapeString(string(cfg)) + "</pre></body></html>")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
