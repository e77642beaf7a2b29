//go:build tools

// Package tools pins modules that the product uses outside the default build: gonb (notebooks),
// go-echarts (charts) and gorgonia.org/cu (CUDA kernels, behind the "cuda" build tag).
package tools

import (
	_ "github.com/go-echarts/go-echarts/v2/charts"
	_ "github.com/janpfeifer/gonb/gonbui"
	_ "gorgonia.org/cu"
)
