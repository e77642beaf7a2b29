package gomlxgrpo

import (
	"context"
	"fmt"
	"html"
	"math"
	"sort"
	"strings"

	"github.com/janpfeifer/gonb/gonbui"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/charts"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/grpo"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/report"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/reward"
)

// Notebook display helpers. Each one displays through gonb's gonbui and does nothing outside a
// notebook (gonbui.IsNotebook is false), so the same code runs in tests and the CLI.

var echartsLoaded bool

// loadECharts inlines echarts once per cell program.
func loadECharts() {
	if !echartsLoaded && gonbui.IsNotebook {
		gonbui.DisplayHTML(charts.ScriptTag())
		echartsLoaded = true
	}
}

// TrainLive trains `steps` more steps and redraws the charts and a progress line in place after
// every step (gonbui.UpdateHTML with a stable id).
func (s *Session) TrainLive(steps int) error {
	loadECharts()
	id := gonbui.UniqueId()
	total := s.Trainer.Cfg.MaxSteps
	rows, _ := report.ReadMetrics(s.Trainer.OutputDir + "/metrics.jsonl")
	err := s.Train(context.Background(), steps, func(m *grpo.StepMetrics) {
		row := map[string]float64{"step": float64(m.Step)}
		for k, v := range m.Values {
			row[k] = v
		}
		rows = append(rows, row)
		if gonbui.IsNotebook {
			gonbui.UpdateHTML(id, progressHTML(m, total)+chartsHTML(id, rows))
		}
	})
	if gonbui.IsNotebook {
		gonbui.Sync()
	}
	return err
}

func progressHTML(m *grpo.StepMetrics, total int) string {
	return fmt.Sprintf("<p><b>step %d/%d</b> — reward %.3f, reward_std %.3f, completion length %.1f, %.1f s/step</p>",
		m.Step, total, m.Values["reward"], m.Values["reward_std"], m.Values["completions/mean_length"], m.Values["step_time"])
}

func chartsHTML(prefix string, rows []map[string]float64) string {
	var b strings.Builder
	b.WriteString(`<div style="display:flex;flex-wrap:wrap;gap:6px">`)
	for _, c := range charts.Standard(prefix, report.History(rows)) {
		b.WriteString("<div>" + c + "</div>")
	}
	b.WriteString("</div>")
	return b.String()
}

// ShowCharts displays the charts of every step trained so far (from metrics.jsonl).
func (s *Session) ShowCharts() error {
	rows, err := report.ReadMetrics(s.Trainer.OutputDir + "/metrics.jsonl")
	if err != nil {
		return fmt.Errorf("no metrics yet in %s: train first (%w)", s.Trainer.OutputDir, err)
	}
	if !gonbui.IsNotebook {
		return nil
	}
	loadECharts()
	gonbui.DisplayHTML(chartsHTML(gonbui.UniqueId(), rows) + AhaHTML(rows) + s.lengthHistogram(16))
	gonbui.Sync()
	return nil
}

// lengthHistogram samples n completions of training prompts with the current adapters and charts
// the distribution of their lengths in tokens.
func (s *Session) lengthHistogram(n int) string {
	var lengths []float64
	for i := 0; i < n && i < len(s.Data); i++ {
		out, err := s.Complete(s.Data[i].Fields["question"], false)
		if err != nil {
			return ""
		}
		lengths = append(lengths, float64(len(s.Model.Tokenizer.Encode(out, false))))
	}
	return charts.Histogram(gonbui.UniqueId(), fmt.Sprintf("completion length (tokens), %d samples now", len(lengths)), lengths, 10)
}

// AhaHTML charts reasoning length and self-checking phrases over the steps: the "aha moment" view.
func AhaHTML(rows []map[string]float64) string {
	h := report.History(rows)
	var ss []charts.Series
	for _, k := range []string{"completions/mean_length", "aha/self_check_rate"} {
		if p, ok := h[k]; ok {
			ss = append(ss, charts.Series{Name: k, Points: p})
		}
	}
	if len(ss) == 0 {
		return ""
	}
	return charts.Line(gonbui.UniqueId(), "reasoning length and self-checks", ss...)
}

// ScoreTable scores completions with each reward and returns an HTML table (and, in a notebook,
// displays it with a histogram of the totals). It never trains: this is reward prototyping.
func ScoreTable(rewards []reward.Reward, samples []reward.Sample) ([][]float64, error) {
	scores, err := reward.Score(rewards, samples)
	if err != nil {
		return nil, err
	}
	if !gonbui.IsNotebook {
		return scores, nil
	}
	loadECharts()
	var b strings.Builder
	b.WriteString("<table style=\"border-collapse:collapse;font-size:13px\"><tr><th>#</th><th>completion</th><th>answer</th>")
	for _, r := range rewards {
		b.WriteString("<th>" + html.EscapeString(r.Name) + "</th>")
	}
	b.WriteString("<th>total</th></tr>")
	var totals []float64
	for i, s := range samples {
		fmt.Fprintf(&b, "<tr><td>%d</td><td><pre style=\"margin:0\">%s</pre></td><td>%s</td>", i, html.EscapeString(s.Completion), html.EscapeString(s.Answer))
		t := 0.0
		for k := range rewards {
			fmt.Fprintf(&b, "<td>%.3f</td>", scores[i][k])
			if !math.IsNaN(scores[i][k]) {
				t += scores[i][k]
			}
		}
		totals = append(totals, t)
		fmt.Fprintf(&b, "<td><b>%.3f</b></td></tr>", t)
	}
	b.WriteString("</table>")
	gonbui.DisplayHTML(b.String() + charts.Histogram(gonbui.UniqueId(), "total reward", totals, 10))
	gonbui.Sync()
	return scores, nil
}

// CompareRewards displays, side by side, the mean score of each reward over the samples.
func CompareRewards(rewards []reward.Reward, samples []reward.Sample) (map[string]float64, error) {
	scores, err := reward.Score(rewards, samples)
	if err != nil {
		return nil, err
	}
	means := map[string]float64{}
	for k, r := range rewards {
		col := make([]float64, len(samples))
		for i := range samples {
			col[i] = scores[i][k]
		}
		means[r.Name] = grpo.NanMean(col)
	}
	if gonbui.IsNotebook {
		names := make([]string, 0, len(means))
		for n := range means {
			names = append(names, n)
		}
		sort.Strings(names)
		var b strings.Builder
		b.WriteString("<table style=\"font-size:13px\"><tr><th>reward</th><th>mean</th></tr>")
		for _, n := range names {
			fmt.Fprintf(&b, "<tr><td>%s</td><td>%.3f</td></tr>", html.EscapeString(n), means[n])
		}
		gonbui.DisplayHTML(b.String() + "</table>")
		gonbui.Sync()
	}
	return means, nil
}

// ShowCompletion displays a question and a completion as markdown in a notebook (and returns the text).
func ShowCompletion(title, question, completion string) string {
	md := fmt.Sprintf("**%s** — *%s*\n\n```\n%s\n```", title, question, completion)
	if gonbui.IsNotebook {
		gonbui.DisplayMarkdown(md)
		gonbui.Sync()
	}
	return md
}
