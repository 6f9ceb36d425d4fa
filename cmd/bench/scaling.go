package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// runScaling runs the spec benchmark for every server count and value size
// (one client per server), prints a table of medians and draws the plot.
func runScaling(ctx context.Context, e *env, o options) (runs, medians []Result, err error) {
	for _, n := range o.serverList {
		for _, size := range o.sizeList {
			e.logf("scaling: %d servers, %d B values, %d run(s)", n, size, o.runs)
			rs, err := e.repeat(ctx, o.runs, specJob(o, n, n, size))
			runs = append(runs, rs...)
			if err != nil {
				return runs, medians, fmt.Errorf("%d servers, %d B: %w", n, size, err)
			}
			medians = append(medians, Summarize(rs))
		}
	}
	WriteScalingTable(os.Stdout, medians)
	if o.plotPath != "" {
		if err := writePlot(o.plotPath, medians); err != nil {
			return runs, medians, fmt.Errorf("plot: %w", err)
		}
		e.logf("plot written to %s", o.plotPath)
	}
	return runs, medians, nil
}

// series groups the cells by value size: one line each, x = servers.
func series(cells []Result, y func(Result) float64) (sizes []int, lines map[int]plotter.XYs) {
	lines = map[int]plotter.XYs{}
	for _, c := range cells {
		if _, ok := lines[c.ValueSize]; !ok {
			sizes = append(sizes, c.ValueSize)
		}
		lines[c.ValueSize] = append(lines[c.ValueSize], plotter.XY{X: float64(c.Servers), Y: y(c)})
	}
	slices.Sort(sizes)
	for _, xys := range lines {
		slices.SortFunc(xys, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
	}
	return sizes, lines
}

func sizeLabel(n int) string {
	if n >= 1024 && n%1024 == 0 {
		return fmt.Sprintf("%d KiB values", n/1024)
	}
	return fmt.Sprintf("%d B values", n)
}

// linePlot draws one line per value size of y against the server count.
func linePlot(title, ylabel string, cells []Result, y func(Result) float64) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "servers"
	p.Y.Label.Text = ylabel
	p.Y.Min = 0
	p.Legend.Top = true
	sizes, lines := series(cells, y)
	var args []any
	for _, s := range sizes {
		args = append(args, sizeLabel(s), lines[s])
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return nil, err
	}
	// Headroom above the highest point keeps the legend off the lines.
	var top float64
	for _, c := range cells {
		top = max(top, y(c))
	}
	p.Y.Max = top * 1.35
	var ticks []plot.Tick
	for _, c := range cells {
		if !slices.ContainsFunc(ticks, func(t plot.Tick) bool { return t.Value == float64(c.Servers) }) {
			ticks = append(ticks, plot.Tick{Value: float64(c.Servers), Label: fmt.Sprint(c.Servers)})
		}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	return p, nil
}

// writePlot draws puts/s (above) and stabilize time (below) against the
// number of servers into one PNG.
func writePlot(path string, cells []Result) error {
	puts, err := linePlot("gossipkv: puts/s (median)", "puts/s", cells, func(r Result) float64 { return r.PutsPerS })
	if err != nil {
		return err
	}
	stab, err := linePlot("stabilize after the last put (median)", "ms", cells, func(r Result) float64 { return r.StabilizeS * 1000 })
	if err != nil {
		return err
	}
	plots := [][]*plot.Plot{{puts}, {stab}}
	img := vgimg.New(6*vg.Inch, 8*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadX: vg.Millimeter, PadY: 6 * vg.Millimeter,
		PadTop: 3 * vg.Millimeter, PadBottom: 3 * vg.Millimeter, PadLeft: 3 * vg.Millimeter, PadRight: 3 * vg.Millimeter}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
