package cli

import (
	"io"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// Style is one named look. Render gives plain text when colour is off, so commands never
// need to ask.
type Style struct {
	look  lipgloss.Style
	color bool
}

// Render styles text, or returns it unchanged when colour is off.
func (s Style) Render(text string) string {
	if !s.color {
		return text
	}
	return s.look.Render(text)
}

// Styles is the one palette of authctl; this file is the only one that knows lipgloss.
type Styles struct {
	Title   Style // headings, table headers
	Key     Style // field names in key: value listings
	Valid   Style // still-valid times, "valid" verdicts
	Expired Style // expired tokens and sessions
	Warning Style // things the user should act on
	Muted   Style // secondary detail

	color bool
}

// NewStyles returns the palette, coloured only when color is true.
func NewStyles(color bool) Styles {
	// authctl has already decided about colour (IOStreams.ColorEnabled); a renderer with
	// a fixed profile keeps lipgloss from second-guessing that by probing os.Stdout.
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.ANSI)
	mk := func(l lipgloss.Style) Style { return Style{look: l, color: color} }
	return Styles{
		Title:   mk(r.NewStyle().Bold(true)),
		Key:     mk(r.NewStyle().Foreground(lipgloss.Color("12"))),
		Valid:   mk(r.NewStyle().Foreground(lipgloss.Color("10"))),
		Expired: mk(r.NewStyle().Foreground(lipgloss.Color("9"))),
		Warning: mk(r.NewStyle().Foreground(lipgloss.Color("11"))),
		Muted:   mk(r.NewStyle().Faint(true)),
		color:   color,
	}
}

// Color reports whether the palette colours anything.
func (s Styles) Color() bool { return s.color }
