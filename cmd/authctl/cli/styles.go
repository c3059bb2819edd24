package cli

import "github.com/charmbracelet/lipgloss"

// The one place with colours. Commands ask styles.Render(styleX, s); with colour off they
// get s unchanged.
var (
	styleTitle   = lipgloss.NewStyle().Bold(true)
	styleKey     = lipgloss.NewStyle().Foreground(lipgloss.Color("12"))
	styleValid   = lipgloss.NewStyle().Foreground(lipgloss.Color("10"))
	styleExpired = lipgloss.NewStyle().Foreground(lipgloss.Color("9"))
	styleWarning = lipgloss.NewStyle().Foreground(lipgloss.Color("11"))
	styleMuted   = lipgloss.NewStyle().Faint(true)
)

// styles renders with colour only when the streams allow it.
type styles struct{ color bool }

func (s styles) Render(st lipgloss.Style, text string) string {
	if !s.color {
		return text
	}
	return st.Render(text)
}
