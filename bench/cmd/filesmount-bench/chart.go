//go:build linux

package main

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"strings"
)

// writeChart draws one horizontal bar per checked result: its score
// against the target (>= 1 passes; for "at least" targets checked/target,
// for "at most" targets target/checked), with the value printed beside it.
// Hand-drawn with a 5x7 bitmap font: no dependency beyond the standard
// library.
func writeChart(path string, r *report) error {
	var rows []*Result
	for _, x := range r.Results {
		if x.Target != "" || x.Status == "N/A" || x.Status == "ERROR" {
			rows = append(rows, x)
		}
	}
	const (
		scale   = 2
		charW   = 6 * scale
		rowH    = 13 * scale
		labelW  = 46 * charW
		barX    = labelW + 20
		barW    = 480
		maxS    = 2.0 // bars are capped at 2x the target
		width   = barX + barW + 30*charW
		headerH = 3 * rowH
	)
	height := headerH + len(rows)*rowH + 2*rowH
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	fill(img, img.Bounds(), color.RGBA{255, 255, 255, 255})
	black := color.RGBA{20, 20, 20, 255}
	grey := color.RGBA{150, 150, 150, 255}
	green := color.RGBA{60, 160, 80, 255}
	red := color.RGBA{210, 60, 50, 255}
	drawText(img, 10, 10, "FILESMOUNT BENCH: SCORE AGAINST TARGET (BAR >= TARGET LINE = PASS)", black, scale)
	drawText(img, 10, 10+rowH, fmt.Sprintf("%v CPU, %v, MEDIAN OF %v RUNS", r.Machine["cpus"], r.Machine["kernel"], r.Config["reps"]), grey, scale)
	x1 := barX + int(float64(barW)/maxS)
	// axis ticks: 0, 0.5, 1 (target), 1.5, 2
	for _, t := range []float64{0, 0.5, 1, 1.5, 2} {
		x := barX + int(t/maxS*float64(barW))
		c := grey
		if t == 1 {
			c = black
		}
		fill(img, image.Rect(x, headerH-4, x+1, height-rowH), c)
		drawText(img, x-charW, height-rowH+4, strings.TrimSuffix(fmt.Sprintf("%.1f", t), ".0"), grey, scale)
	}
	fill(img, image.Rect(x1-1, headerH-4, x1+2, height-rowH), black)
	for i, x := range rows {
		y := headerH + i*rowH
		label := x.Row + " " + strings.TrimSpace(x.Label)
		drawText(img, 10, y+4, clip(label, 46), black, scale)
		s, txt := score(x)
		c := red
		if x.Status == "PASS" {
			c = green
		}
		if x.Status == "N/A" || x.Status == "ERROR" || math.IsNaN(s) {
			drawText(img, barX+4, y+4, x.Status, grey, scale)
			continue
		}
		w := int(math.Min(s, maxS) / maxS * float64(barW))
		fill(img, image.Rect(barX, y+3, barX+max(w, 2), y+rowH-5), c)
		if s > maxS {
			drawText(img, barX+barW-charW, y+4, ">", color.RGBA{255, 255, 255, 255}, scale)
		}
		drawText(img, barX+barW+10, y+4, txt, black, scale)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// score maps a result to "fraction of the target" (>= 1 passes) and a
// short text.
func score(x *Result) (float64, string) {
	v := x.Checked
	unit := strings.ToUpper(x.CheckedUnit)
	if unit == "" {
		unit = strings.ToUpper(x.Unit)
	}
	txt := fmtNum(v) + " " + unit + " (" + x.Target + ")"
	switch x.op {
	case ">=", ">":
		if x.tgt == 0 {
			return math.NaN(), txt
		}
		return v / x.tgt, txt
	case "<=", "<":
		if v <= 0 {
			return 2, txt
		}
		return x.tgt / v, txt
	case "==":
		if x.Status == "PASS" {
			return 1, txt
		}
		return 0.3, txt
	}
	return math.NaN(), txt
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

func drawText(img *image.RGBA, x, y int, s string, c color.RGBA, scale int) {
	for _, ch := range strings.ToUpper(s) {
		g, ok := font[ch]
		if !ok {
			g = font['?']
		}
		for row := 0; row < 7; row++ {
			for col := 0; col < 5; col++ {
				if g[row][col] == '#' {
					fill(img, image.Rect(x+col*scale, y+row*scale, x+(col+1)*scale, y+(row+1)*scale), c)
				}
			}
		}
		x += 6 * scale
	}
}

// font is a 5x7 bitmap font for the characters the chart uses.
var font = map[rune][7]string{
	' ': {".....", ".....", ".....", ".....", ".....", ".....", "....."},
	'A': {".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'B': {"####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."},
	'C': {".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."},
	'D': {"####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."},
	'E': {"#####", "#....", "#....", "####.", "#....", "#....", "#####"},
	'F': {"#####", "#....", "#....", "####.", "#....", "#....", "#...."},
	'G': {".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"},
	'H': {"#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'I': {".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."},
	'J': {"..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."},
	'K': {"#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"},
	'L': {"#....", "#....", "#....", "#....", "#....", "#....", "#####"},
	'M': {"#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"},
	'N': {"#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"},
	'O': {".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
	'P': {"####.", "#...#", "#...#", "####.", "#....", "#....", "#...."},
	'Q': {".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"},
	'R': {"####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"},
	'S': {".####", "#....", "#....", ".###.", "....#", "....#", "####."},
	'T': {"#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."},
	'U': {"#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
	'V': {"#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."},
	'W': {"#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."},
	'X': {"#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"},
	'Y': {"#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."},
	'Z': {"#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"},
	'0': {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."},
	'1': {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."},
	'2': {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"},
	'3': {"#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."},
	'4': {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."},
	'5': {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."},
	'6': {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."},
	'7': {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."},
	'8': {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."},
	'9': {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."},
	'.': {".....", ".....", ".....", ".....", ".....", ".##..", ".##.."},
	',': {".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."},
	':': {".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."},
	'-': {".....", ".....", ".....", "#####", ".....", ".....", "....."},
	'+': {".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."},
	'/': {".....", "....#", "...#.", "..#..", ".#...", "#....", "....."},
	'%': {"##...", "##..#", "...#.", "..#..", ".#...", "#..##", "...##"},
	'(': {"...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."},
	')': {".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."},
	'<': {"...#.", "..#..", ".#...", "#....", ".#...", "..#..", "...#."},
	'>': {".#...", "..#..", "...#.", "....#", "...#.", "..#..", ".#..."},
	'=': {".....", ".....", "#####", ".....", "#####", ".....", "....."},
	'_': {".....", ".....", ".....", ".....", ".....", ".....", "#####"},
	'?': {".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.."},
	'…': {".....", ".....", ".....", ".....", ".....", "#.#.#", "....."},
}
