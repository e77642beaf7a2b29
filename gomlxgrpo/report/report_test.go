package report

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/grpo"
)

// TestWriteHTML writes a report from a metrics file and checks that it is self-contained (echarts
// inlined), draws the standard charts and shows the samples escaped.
func TestWriteHTML(t *testing.T) {
	dir := t.TempDir()
	lines := `{"step":1,"reward":1.0,"reward_std":0.5,"rewards/correctness_reward_func/mean":0.5,"loss":0.1,"grad_norm":0.2,"learning_rate":1e-5,"completions/mean_length":20,"kl":null}
{"step":2,"reward":2.0,"reward_std":0.4,"rewards/correctness_reward_func/mean":1.5,"loss":0.0,"grad_norm":0.3,"learning_rate":2e-5,"completions/mean_length":22,"kl":null}
`
	mpath := filepath.Join(dir, "metrics.jsonl")
	if err := os.WriteFile(mpath, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	rows, err := ReadMetrics(mpath)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || !math.IsNaN(rows[0]["kl"]) {
		t.Fatalf("rows %v (null must read as NaN)", rows)
	}
	r := &Report{Title: "t", Config: grpo.Defaults(), Metrics: rows,
		Before: []Sample{{Question: "2+2?", Answer: "4", Completion: "<answer>\n5\n</answer>"}}}
	out := filepath.Join(dir, "report.html")
	if err := r.WriteHTML(out); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	html := string(b)
	for _, want := range []string{"(function(define, module, exports){", "echarts.init", "&lt;answer&gt;", "over the first 1 steps"} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if n := strings.Count(html, "echarts.init"); n < 6 {
		t.Errorf("%d charts, want the standard set (reward, per function, std, length, loss, grad norm, lr)", n)
	}
	if strings.Contains(html, "cdn.jsdelivr") || strings.Contains(html, "<script src=") {
		t.Error("the report must not load scripts from the network")
	}
}

func TestSummarize(t *testing.T) {
	rows := []map[string]float64{{"m": 1}, {"m": 1}, {"m": 3}, {"m": 3}}
	if s := Summarize(rows, "m", 2); !strings.Contains(s, "1.000 over the first 2") || !strings.Contains(s, "3.000 over the last 2") {
		t.Fatal(s)
	}
}
