package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// configFlag names serve's --config; it is read from the command line or AUTHCTL_CONFIG
// only, never from the file it names.
const configFlag = "config"

// envName is the environment variable of a serve flag: --access-ttl → AUTHCTL_ACCESS_TTL.
func envName(flag string) string {
	return "AUTHCTL_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// withConfigSources gives every flag of serve two more sources besides the command line:
// its AUTHCTL_* variable and a key of the same name in the TOML file --config names
// (README "Configuration"). A flag given on the command line wins, then the variable,
// then the file, then the flag's default.
//
// It works on whatever flags serve declares when it runs, so a flag added to serve later
// gets its variable and its key without a line here; the help text lists each variable.
// Values from the variable or the file are set through the flag itself, so they are
// parsed and reported exactly as on the command line, and count as given (Changed) for
// the checks that ask whether the operator chose a value.
func withConfigSources(f *Factory, cmd *cobra.Command) *cobra.Command {
	cmd.Flags().String(configFlag, "", "TOML file of flag values, keys named as the flags (see Configuration above)")
	cmd.LocalFlags().VisitAll(func(fl *pflag.Flag) {
		if !strings.Contains(fl.Usage, "(env ") {
			fl.Usage += " (env " + envName(fl.Name) + ")"
		}
	})
	cmd.Long = strings.TrimRight(cmd.Long, "\n") + `

Configuration: every flag can also be set by its AUTHCTL_* environment variable (shown
with each flag below; repeatable flags take a comma-separated list) or by a key of the
same name in the TOML file given by --config or AUTHCTL_CONFIG, for example

    addr = "127.0.0.1:5000"
    access-ttl = "10m"
    cors-origin = ["http://localhost:4200"]

A flag on the command line wins over its variable, the variable over the file, and the
file over the default. A key that is not a flag name is an error.`
	run := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if err := applyConfigSources(c.LocalFlags(), c.Flags(), f.Getenv); err != nil {
			return err
		}
		return run(c, args)
	}
	return cmd
}

// applyConfigSources sets each flag of local that the command line left alone from its
// environment variable, else from the --config file. set is the command's full flag set,
// through which values are set so that they count as given.
func applyConfigSources(local, set *pflag.FlagSet, getenv func(string) string) error {
	file := map[string]any{}
	path, _ := set.GetString(configFlag)
	if !set.Changed(configFlag) {
		path = getenv(envName(configFlag))
	}
	if path != "" {
		var err error
		if file, err = readConfigFile(path, local); err != nil {
			return err
		}
	}
	var firstErr error
	local.VisitAll(func(fl *pflag.Flag) {
		if firstErr != nil || fl.Changed || fl.Name == configFlag || fl.Name == "help" {
			return
		}
		if v := getenv(envName(fl.Name)); v != "" {
			var values []string
			if isList(fl) {
				values = splitList(v)
			} else {
				values = []string{v}
			}
			if err := setFlag(set, fl, values); err != nil {
				firstErr = usageError("%s=%q: %v", envName(fl.Name), v, err)
			}
			return
		}
		if raw, ok := file[fl.Name]; ok {
			values, err := configValues(raw, isList(fl))
			if err == nil {
				err = setFlag(set, fl, values)
			}
			if err != nil {
				firstErr = usageError("config file %s: %s: %v", path, fl.Name, err)
			}
		}
	})
	return firstErr
}

// readConfigFile decodes the TOML file at path and refuses any key that is not one of
// flags' names: a misspelt key silently ignored would leave a setting at its default.
func readConfigFile(path string, flags *pflag.FlagSet) (map[string]any, error) {
	var file map[string]any
	if _, err := toml.DecodeFile(path, &file); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, usageError("config file %s does not exist", path)
		}
		return nil, usageError("config file %s: %v", path, err)
	}
	var unknown []string
	for k := range file {
		if fl := flags.Lookup(k); fl == nil || k == configFlag || k == "help" {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return nil, usageError("config file %s: unknown key %q (the keys are the flag names of 'authctl serve')", path, unknown[0])
	}
	return file, nil
}

// isList tells a repeatable flag (--cors-origin, …), which takes a list.
func isList(fl *pflag.Flag) bool {
	_, ok := fl.Value.(pflag.SliceValue)
	return ok
}

// splitList splits a list from an environment variable at commas; none of serve's
// repeatable values (origins, CIDRs) can contain one.
func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// configValues turns a TOML value into the flag's textual values: a string, number or
// boolean for any flag, an array of them only for a repeatable one.
func configValues(raw any, list bool) ([]string, error) {
	if arr, ok := raw.([]any); ok {
		if !list {
			return nil, errors.New("want a single value, not a list")
		}
		out := make([]string, 0, len(arr))
		for _, el := range arr {
			s, err := configScalar(el)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, err := configScalar(raw)
	if err != nil {
		return nil, err
	}
	return []string{s}, nil
}

func configScalar(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	}
	return "", fmt.Errorf("want a string, number or boolean, not %T", v)
}

// setFlag sets fl to values through set, as the command line would have: a list replaces
// the default rather than adding to it.
func setFlag(set *pflag.FlagSet, fl *pflag.Flag, values []string) error {
	if sv, ok := fl.Value.(pflag.SliceValue); ok {
		if err := sv.Replace(values); err != nil {
			return err
		}
		fl.Changed = true
		return nil
	}
	if len(values) != 1 {
		return errors.New("want a single value")
	}
	return set.Set(fl.Name, values[0])
}
