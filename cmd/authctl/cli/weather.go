package cli

import (
	"fmt"
	"strconv"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/lipgloss/table"
	"github.com/spf13/cobra"

	"github.com/authctl/authctl/client"
)

// NewCmdWeather is `authctl weather`.
func NewCmdWeather(f *Factory) *cobra.Command {
	var days int
	cmd := &cobra.Command{
		Use:   "weather",
		Short: "Show the protected weather forecast (refreshes and retries once on 401)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if days < 1 || days > 14 {
				return usageError("--days must be from 1 to 14, not %d", days)
			}
			c, _, err := f.client()
			if err != nil {
				return err
			}
			fc, err := c.Weather(cmd.Context(), days)
			if err != nil {
				return clientErr(c, err)
			}
			if f.JSON {
				return writeJSON(f, fc)
			}
			fmt.Fprint(f.IO.Out, renderWeather(fc, f.Styles()))
			return nil
		},
	}
	cmd.Flags().IntVar(&days, "days", 5, "number of days, 1–14")
	return cmd
}

// renderWeather draws a bordered table on a terminal and plain columns otherwise.
func renderWeather(fc []client.Forecast, sty Styles) string {
	rows := make([][]string, len(fc))
	for i, d := range fc {
		rows[i] = []string{d.Date, strconv.Itoa(d.TemperatureC) + " °C", strconv.Itoa(d.TemperatureF) + " °F", d.Summary}
	}
	headers := []string{"DATE", "TEMP C", "TEMP F", "SUMMARY"}
	if !sty.Color() {
		out := ""
		for _, r := range append([][]string{headers}, rows...) {
			out += fmt.Sprintf("%-10s  %-7s  %-7s  %s\n", r[0], r[1], r[2], r[3])
		}
		return out
	}
	t := table.New().Border(lipgloss.RoundedBorder()).Headers(headers...).Rows(rows...).
		StyleFunc(func(row, col int) lipgloss.Style {
			if row == table.HeaderRow {
				return lipgloss.NewStyle().Bold(true).Padding(0, 1)
			}
			return lipgloss.NewStyle().Padding(0, 1)
		})
	return t.Render() + "\n"
}
