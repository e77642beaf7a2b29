// Command chartcheck fails when a screenshot shows no drawn chart: it counts pixels of echarts'
// first series color (#5470c6) and requires at least -min of them.
//
//	go run ./scripts/chartcheck -min 300 shot.png
package main

import (
	"flag"
	"fmt"
	"image/png"
	"os"
)

func main() {
	minPixels := flag.Int("min", 300, "pixels of the series color required")
	flag.Parse()
	f, err := os.Open(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	img, err := png.Decode(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if near(r>>8, 0x54) && near(g>>8, 0x70) && near(bl>>8, 0xc6) {
				n++
			}
		}
	}
	fmt.Printf("chartcheck: %d pixels of the series color in %s\n", n, flag.Arg(0))
	if n < *minPixels {
		fmt.Fprintf(os.Stderr, "chartcheck: the chart looks blank (%d < %d pixels)\n", n, *minPixels)
		os.Exit(1)
	}
}

func near(a uint32, b int) bool { return int(a) >= b-24 && int(a) <= b+24 }
