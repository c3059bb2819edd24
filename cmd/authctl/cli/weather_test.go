package cli

import (
	"strings"
	"testing"

	"github.com/authctl/authctl/client"
)

func TestRenderWeatherFitsTheTerminal(t *testing.T) {
	t.Parallel()
	fc := []client.Forecast{
		{Date: "2026-11-29", TemperatureC: -12, TemperatureF: 11, Summary: "Freezing"},
		{Date: "2026-11-30", TemperatureC: 48, TemperatureF: 118, Summary: "Sweltering"},
	}
	for _, color := range []bool{true, false} {
		for _, width := range []int{120, 56, 48, 40, 36, 30, 24} {
			out := renderWeather(fc, NewStyles(color), width)
			for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
				if w := widest(line); w > width {
					t.Errorf("colour %v, %d columns: a line of %d would wrap:\n%s", color, width, w, out)
					break
				}
			}
			for _, want := range []string{"2026-11-30", "48 °C", "Sweltering"} {
				if !strings.Contains(out, want) {
					t.Errorf("colour %v, %d columns: %q missing:\n%s", color, width, want, out)
				}
			}
		}
	}
	t.Run("a wide terminal gets the bordered table with °F", func(t *testing.T) {
		if out := renderWeather(fc, NewStyles(true), 120); !strings.Contains(out, "╭") || !strings.Contains(out, "118 °F") {
			t.Errorf("%s", out)
		}
	})
	t.Run("a pipe gets every column whatever its width", func(t *testing.T) {
		out := renderWeather(fc, NewStyles(false), 0)
		if !strings.HasPrefix(out, "DATE        TEMP C   TEMP F   SUMMARY\n") || !strings.Contains(out, "118 °F") {
			t.Errorf("%s", out)
		}
	})
}
