package cli

import (
	"runtime/debug"
	"testing"
)

func TestBuildInfoFromModule(t *testing.T) {
	t.Parallel()
	unstamped := BuildInfo{Version: "dev", Commit: "none", Date: "unknown"}
	settings := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	for _, c := range []struct {
		name  string
		build BuildInfo
		info  debug.BuildInfo
		want  BuildInfo
	}{
		{"a release build keeps what was stamped", BuildInfo{Version: "1.4.0", Commit: "abc", Date: "2026-01-01T00:00:00Z"},
			debug.BuildInfo{Main: debug.Module{Version: "v9.9.9"}, Settings: settings("vcs.revision", "fff")},
			BuildInfo{Version: "1.4.0", Commit: "abc", Date: "2026-01-01T00:00:00Z"}},
		{"go install @version names the module version", unstamped,
			debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}},
			BuildInfo{Version: "v1.2.3", Commit: "none", Date: "unknown"}},
		{"a build in a checkout names the revision and its time", unstamped,
			debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: settings("vcs", "git", "vcs.revision", "0123456789abcdef0123456789abcdef01234567", "vcs.time", "2026-11-28T10:11:12Z", "vcs.modified", "false")},
			BuildInfo{Version: "dev", Commit: "0123456789abcdef0123456789abcdef01234567", Date: "2026-11-28T10:11:12Z"}},
		{"uncommitted changes are marked", unstamped,
			debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261128101112-0123456789ab+dirty"}, Settings: settings("vcs.revision", "0123456789abcdef", "vcs.time", "2026-11-28T10:11:12Z", "vcs.modified", "true")},
			BuildInfo{Version: "v0.0.0-20261128101112-0123456789ab+dirty", Commit: "0123456789abcdef-dirty", Date: "2026-11-28T10:11:12Z"}},
		{"go install @main reads the pseudo-version", unstamped,
			debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261128101112-0123456789ab"}},
			BuildInfo{Version: "v0.0.0-20261128101112-0123456789ab", Commit: "0123456789ab", Date: "2026-11-28T10:11:12Z"}},
		{"a pseudo-version after a pre-release", unstamped,
			debug.BuildInfo{Main: debug.Module{Version: "v1.3.0-rc.1.0.20261128101112-0123456789ab"}},
			BuildInfo{Version: "v1.3.0-rc.1.0.20261128101112-0123456789ab", Commit: "0123456789ab", Date: "2026-11-28T10:11:12Z"}},
		{"a test binary knows nothing", BuildInfo{},
			debug.BuildInfo{},
			BuildInfo{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := c.build.fromModule(&c.info); got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}
