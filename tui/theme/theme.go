// Package theme holds dttui's styles. Colour says health at a glance
// (green published, yellow republishing or pending, red failed or
// dropping); every state is also a word, so nothing is lost without
// colour (NO_COLOR, or a plain terminal).
package theme

import (
	"os"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// Theme is the set of styles every component draws with.
type Theme struct {
	R *lipgloss.Renderer

	Title, Dim, Bold    lipgloss.Style
	OK, Warn, Bad, Info lipgloss.Style
	Header, Footer      lipgloss.Style
	TableHead, Selected lipgloss.Style
	Totals              lipgloss.Style
	Box                 lipgloss.Style
	Status, StatusErr   lipgloss.Style
	// Focused is the border of the pane that has the keys; Edge the
	// others' (a pane drawing its own titled top border uses them).
	Focused, Edge lipgloss.Style
	// Match marks search matches, CurrentMatch the one n/N is on: reverse
	// video, so they show without colour too.
	Match, CurrentMatch lipgloss.Style
}

// New builds a theme for the renderer's colour profile.
func New(r *lipgloss.Renderer) Theme {
	// Resolve the terminal's background (for the adaptive selection
	// colour) now, before the UI owns the terminal: asked later, the query
	// would race bubbletea's input reader.
	_ = r.HasDarkBackground()
	s := r.NewStyle
	return Theme{
		R:         r,
		Title:     s().Bold(true).Foreground(lipgloss.Color("#7D56F4")),
		Dim:       s().Foreground(lipgloss.Color("245")),
		Bold:      s().Bold(true),
		OK:        s().Foreground(lipgloss.Color("#3FB950")),
		Warn:      s().Foreground(lipgloss.Color("#D29922")),
		Bad:       s().Foreground(lipgloss.Color("#F85149")).Bold(true),
		Info:      s().Foreground(lipgloss.Color("#58A6FF")),
		Header:    s().Padding(0, 1),
		Footer:    s().Foreground(lipgloss.Color("245")).Padding(0, 1),
		TableHead: s().Bold(true).Foreground(lipgloss.Color("250")).Underline(true),
		// A background, not reverse video: coloured cells (states,
		// sparklines) keep their colour and meaning on the selected row.
		Selected:     s().Background(lipgloss.AdaptiveColor{Light: "254", Dark: "238"}),
		Totals:       s().Bold(true),
		Box:          s().Border(lipgloss.RoundedBorder()).BorderForeground(lipgloss.Color("240")).Padding(0, 1),
		Status:       s().Foreground(lipgloss.Color("#58A6FF")),
		StatusErr:    s().Foreground(lipgloss.Color("#F85149")).Bold(true),
		Focused:      s().Foreground(lipgloss.Color("#7D56F4")),
		Edge:         s().Foreground(lipgloss.Color("240")),
		Match:        s().Reverse(true),
		CurrentMatch: s().Reverse(true).Bold(true).Foreground(lipgloss.Color("#D29922")),
	}
}

// Terminal returns the theme for stdout, honouring NO_COLOR.
func Terminal() Theme {
	r := lipgloss.NewRenderer(os.Stdout)
	if os.Getenv("NO_COLOR") != "" {
		r.SetColorProfile(termenv.Ascii)
	}
	return New(r)
}

// Plain is colourless (goldens and NO_COLOR); Color is true colour (screenshots).
func Plain() Theme { return withProfile(termenv.Ascii) }

// Color renders true colour whatever the output is.
func Color() Theme { return withProfile(termenv.TrueColor) }

func withProfile(p termenv.Profile) Theme {
	r := lipgloss.NewRenderer(os.Stdout)
	r.SetColorProfile(p)
	return New(r)
}
