package cli

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/lipgloss/table"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/authctl/authctl/client"
)

// WeatherOptions are `authctl weather`'s.
type WeatherOptions struct {
	ClientOptions
	Days  int
	Width int // the terminal's columns; 0 when stdout is not a terminal
}

func (o *WeatherOptions) fill(f *Factory, cmd *cobra.Command, args []string) error {
	if o.Days < 1 || o.Days > 14 {
		return usageError("--days must be from 1 to 14, not %d", o.Days)
	}
	o.Width = terminalWidth(f.IO)
	return o.ClientOptions.fill(f, cmd, args)
}

// terminalWidth is the width of the terminal stdout is, or 0 when it is none (or cannot
// say): output to a pipe keeps one layout whatever the width of the terminal around it.
func terminalWidth(ios *IOStreams) int {
	f, ok := ios.Out.(*os.File)
	if !ok || !ios.IsStdoutTTY() {
		return 0
	}
	w, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0
	}
	return w
}

// NewCmdWeather is `authctl weather`.
func NewCmdWeather(f *Factory, runF func(context.Context, *WeatherOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "weather",
		Short: "Show the protected weather forecast (refreshes and retries once on 401)",
		Long: `Show the forecast from the server's protected /api/weather: a table on a terminal (as
wide as the terminal allows), plain columns in a pipe, or JSON with --json.`,
		Example: `  authctl weather
  authctl weather --days 14 --json | jq -r '.[] | "\(.date) \(.summary)"'
  AUTHCTL_TOKEN=$(cat token) authctl weather --server https://id.example`,
		Args: cobra.NoArgs,
	}
	return newCmd(f, cmd, runF, weatherRun, func(cmd *cobra.Command, o *WeatherOptions) {
		cmd.Flags().IntVar(&o.Days, "days", 5, "number of days, 1–14")
	})
}

func weatherRun(ctx context.Context, opts *WeatherOptions) error {
	fc, _, err := call(&opts.ClientOptions, func(c *client.Client) ([]client.Forecast, error) { return c.Weather(ctx, opts.Days) })
	if err != nil {
		return err
	}
	if opts.JSON {
		return writeJSON(opts.IO, fc)
	}
	fmt.Fprint(opts.IO.Out, renderWeather(fc, opts.IO.Styles(), opts.Width))
	return nil
}

// renderWeather lays the forecast out for a terminal width columns wide (0: not a
// terminal, any width): a bordered table when there is colour, plain columns otherwise,
// and when that is too wide for the terminal — which would wrap every line into a mess —
// the next narrower layout: without the °F column, then one day on two lines.
func renderWeather(fc []client.Forecast, sty Styles, width int) string {
	var layouts []func() string
	if sty.Color() {
		layouts = append(layouts, func() string { return weatherTable(fc, true) }, func() string { return weatherTable(fc, false) })
	}
	layouts = append(layouts, func() string { return weatherColumns(fc, true) }, func() string { return weatherColumns(fc, false) })
	for _, layout := range layouts {
		out := layout()
		if width <= 0 || widest(out) <= width {
			return out
		}
	}
	return weatherStacked(fc)
}

// weatherRows are the table's cells, with or without the °F column.
func weatherRows(fc []client.Forecast, fahrenheit bool) (headers []string, rows [][]string) {
	headers = []string{"DATE", "TEMP C", "TEMP F", "SUMMARY"}
	if !fahrenheit {
		headers = []string{"DATE", "TEMP", "SUMMARY"}
	}
	for _, d := range fc {
		r := []string{d.Date, strconv.Itoa(d.TemperatureC) + " °C", strconv.Itoa(d.TemperatureF) + " °F", d.Summary}
		if !fahrenheit {
			r = []string{r[0], r[1], r[3]}
		}
		rows = append(rows, r)
	}
	return headers, rows
}

func weatherTable(fc []client.Forecast, fahrenheit bool) string {
	headers, rows := weatherRows(fc, fahrenheit)
	t := table.New().Border(lipgloss.RoundedBorder()).Headers(headers...).Rows(rows...).
		StyleFunc(func(row, col int) lipgloss.Style {
			if row == table.HeaderRow {
				return lipgloss.NewStyle().Bold(true).Padding(0, 1)
			}
			return lipgloss.NewStyle().Padding(0, 1)
		})
	return t.Render() + "\n"
}

// weatherColumns is the plain layout; with all columns it is the one scripts see.
func weatherColumns(fc []client.Forecast, fahrenheit bool) string {
	headers, rows := weatherRows(fc, fahrenheit)
	var b strings.Builder
	for _, r := range append([][]string{headers}, rows...) {
		if fahrenheit {
			fmt.Fprintf(&b, "%-10s  %-7s  %-7s  %s\n", r[0], r[1], r[2], r[3])
		} else {
			fmt.Fprintf(&b, "%-10s  %-6s  %s\n", r[0], r[1], r[2])
		}
	}
	return b.String()
}

// weatherStacked is the narrowest layout: the date, then the rest indented below it.
func weatherStacked(fc []client.Forecast) string {
	var b strings.Builder
	for _, d := range fc {
		fmt.Fprintf(&b, "%s\n  %d °C  %s\n", d.Date, d.TemperatureC, d.Summary)
	}
	return b.String()
}

// widest is the width of the longest line of s, in terminal cells.
func widest(s string) int {
	w := 0
	for _, line := range strings.Split(s, "\n") {
		w = max(w, lipgloss.Width(line))
	}
	return w
}
