// Package charts builds the GRPO training charts with go-echarts, for HTML reports and for gonb
// notebooks, drawing offline: echarts.min.js (npm echarts@6.1.0, Apache-2.0, ECHARTS_LICENSE) is
// embedded and inlined once per page, wrapped so that require.js pages cannot hide it.
package charts

import (
	_ "embed"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"
)

//go:embed echarts.min.js
var echartsJS string

// ScriptTag returns echarts as an inline <script>, safe where require.js is loaded: the library is
// evaluated with define/module/exports hidden, so it always registers window.echarts.
func ScriptTag() string {
	return "<script>(function(define, module, exports){\n" + echartsJS + "\n}).call(window);</script>"
}

// Point is one metric value at a step.
type Point struct {
	Step  int
	Value float64
}

// Series is a named line.
type Series struct {
	Name   string
	Points []Point
}

// Line renders a line chart of one or more series over steps as an HTML snippet (a div and its
// script; echarts itself must be on the page, see ScriptTag). NaN points are gaps. id must be unique on the page.
func Line(id, title string, series ...Series) string {
	c := charts.NewLine()
	c.ChartID = id
	c.SetGlobalOptions(
		charts.WithAnimation(false),
		charts.WithInitializationOpts(opts.Initialization{Width: "560px", Height: "300px", BackgroundColor: "white"}),
		charts.WithTitleOpts(opts.Title{Title: title, TitleStyle: &opts.TextStyle{FontSize: 14}}),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithXAxisOpts(opts.XAxis{Name: "step"}),
		charts.WithYAxisOpts(opts.YAxis{Scale: opts.Bool(true)}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(len(series) > 1), Top: "bottom"}),
	)
	steps := map[int]bool{}
	for _, s := range series {
		for _, p := range s.Points {
			steps[p.Step] = true
		}
	}
	var xs []int
	for s := range steps {
		xs = append(xs, s)
	}
	sort.Ints(xs)
	c.SetXAxis(xs)
	for _, s := range series {
		byStep := map[int]float64{}
		for _, p := range s.Points {
			byStep[p.Step] = p.Value
		}
		data := make([]opts.LineData, len(xs))
		for i, x := range xs {
			v, ok := byStep[x]
			if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
				data[i] = opts.LineData{Value: "-"}
			} else {
				data[i] = opts.LineData{Value: v}
			}
		}
		c.AddSeries(s.Name, data, charts.WithLineChartOpts(opts.LineChart{ShowSymbol: opts.Bool(len(xs) < 60)}))
	}
	c.ClearPresetJSAssets()
	snip := c.RenderSnippet()
	return snip.Element + snip.Script
}

// Histogram renders counts of values in nbins equal bins.
func Histogram(id, title string, values []float64, nbins int) string {
	c := charts.NewBar()
	c.ChartID = id
	c.SetGlobalOptions(
		charts.WithAnimation(false),
		charts.WithInitializationOpts(opts.Initialization{Width: "560px", Height: "300px", BackgroundColor: "white"}),
		charts.WithTitleOpts(opts.Title{Title: title, TitleStyle: &opts.TextStyle{FontSize: 14}}),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true)}),
	)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range values {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if len(values) == 0 {
		lo, hi = 0, 1
	}
	if hi == lo {
		hi = lo + 1
	}
	counts := make([]int, nbins)
	for _, v := range values {
		b := int(float64(nbins) * (v - lo) / (hi - lo))
		counts[min(max(b, 0), nbins-1)]++
	}
	labels := make([]string, nbins)
	data := make([]opts.BarData, nbins)
	for i := range counts {
		labels[i] = fmt.Sprintf("%.3g", lo+(hi-lo)*(float64(i)+0.5)/float64(nbins))
		data[i] = opts.BarData{Value: counts[i]}
	}
	c.SetXAxis(labels).AddSeries("count", data)
	c.ClearPresetJSAssets()
	snip := c.RenderSnippet()
	return snip.Element + snip.Script
}

// Standard are the charts of a GRPO run, keyed by TRL metric names: total and per-function reward,
// reward_std, KL, completion length, loss, grad norm, learning rate.
func Standard(idPrefix string, history map[string][]Point) []string {
	var out []string
	add := func(title string, names ...string) {
		var ss []Series
		for _, n := range names {
			if pts, ok := history[n]; ok {
				ss = append(ss, Series{Name: n, Points: pts})
			}
		}
		if len(ss) > 0 {
			out = append(out, Line(fmt.Sprintf("%s_%d", idPrefix, len(out)), title, ss...))
		}
	}
	add("reward", "reward")
	var perFn []string
	for n := range history {
		if strings.HasPrefix(n, "rewards/") && strings.HasSuffix(n, "/mean") {
			perFn = append(perFn, n)
		}
	}
	sort.Strings(perFn)
	add("reward per function", perFn...)
	add("reward_std", "reward_std")
	add("kl", "kl")
	add("completion length", "completions/mean_length")
	add("loss", "loss")
	add("grad_norm", "grad_norm")
	add("learning_rate", "learning_rate")
	return out
}
