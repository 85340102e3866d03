package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dttui/dttui/report"
)

// lkHome is a temporary HOME holding lk's config with the given text.
func lkHome(t *testing.T, config string, mode os.FileMode) string {
	t.Helper()
	home := t.TempDir()
	if config == "" {
		return home
	}
	if err := os.MkdirAll(filepath.Join(home, ".livekit"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, lkConfigPath), []byte(config), mode); err != nil {
		t.Fatal(err)
	}
	return home
}

// The shape `lk project add` writes, with lk's other keys dttui ignores.
const lkTwoProjects = `default_project: dev
default_user: someone
theme: dark
projects:
  - name: dev
    project_id: p_1
    url: wss://dev.example
    api_key: devkey
    api_secret: devsecret
  - name: staging
    url: https://staging.example
    api_key: stkey
    api_secret: stsecret
users: []
`

// Precedence, value by value: flags, then the environment, then
// --project, then the default project (only when no URL is given).
func TestLKConfigPrecedence(t *testing.T) {
	home := lkHome(t, lkTwoProjects, 0o600)
	cases := []struct {
		name             string
		args             []string
		env              map[string]string
		url, key, secret string
		creds            report.Credentials
	}{
		{"default project", nil, nil, "wss://dev.example", "devkey", "devsecret",
			report.Credentials{URL: report.OriginProject, Key: report.OriginProject, Project: "dev", DefaultProject: true}},
		{"--project", []string{"--project", "staging"}, nil, "https://staging.example", "stkey", "stsecret",
			report.Credentials{URL: report.OriginProject, Key: report.OriginProject, Project: "staging"}},
		{"env key over --project", []string{"--project", "staging"}, map[string]string{"LIVEKIT_API_KEY": "envkey"}, "https://staging.example", "envkey", "stsecret",
			report.Credentials{URL: report.OriginProject, Key: report.OriginEnv, Project: "staging"}},
		{"flag over env over --project", []string{"--project", "staging", "--api-key", "flagkey"}, map[string]string{"LIVEKIT_API_KEY": "envkey", "LIVEKIT_URL": "wss://env.example"},
			"wss://env.example", "flagkey", "stsecret", report.Credentials{URL: report.OriginEnv, Key: report.OriginFlag, Project: "staging"}},
		{"env URL: no default project", nil, map[string]string{"LIVEKIT_URL": "wss://env.example", "LIVEKIT_API_KEY": "k", "LIVEKIT_API_SECRET": "s"},
			"wss://env.example", "k", "s", report.Credentials{URL: report.OriginEnv, Key: report.OriginEnv}},
		{"flag URL: no default project", []string{"--url", "wss://flag.example", "--token", "tok"}, nil,
			"wss://flag.example", "", "", report.Credentials{URL: report.OriginFlag, Key: report.OriginFlag}},
		{"--local: the embedded SFU", []string{"--local"}, nil, "", "", "",
			report.Credentials{URL: report.OriginEmbedded, Key: report.OriginEmbedded}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := map[string]string{"HOME": home}
			for k, v := range c.env {
				e[k] = v
			}
			o, err := parseFlags(c.args, env(e))
			if err != nil {
				t.Fatal(err)
			}
			if o.URL != c.url || o.APIKey != c.key || o.APISecret != c.secret || o.Credentials != c.creds {
				t.Fatalf("url %q key %q secret %q creds %+v; want %q %q %q %+v", o.URL, o.APIKey, o.APISecret, o.Credentials, c.url, c.key, c.secret, c.creds)
			}
		})
	}
}

// The default project is said, with the file it came from; a config
// others can read is warned about.
func TestLKConfigNotices(t *testing.T) {
	home := lkHome(t, lkTwoProjects, 0o644)
	o, err := parseFlags(nil, env(map[string]string{"HOME": home}))
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(o.Notices, "\n")
	for _, want := range []string{"default project dev (" + filepath.Join(home, lkConfigPath) + ")", "--local", "mode 0644", "chmod 600"} {
		if !strings.Contains(all, want) {
			t.Errorf("notices lack %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "devsecret") {
		t.Fatalf("a notice shows the secret:\n%s", all)
	}
}

// No file, or one without a default project: today's behaviour, the
// embedded SFU.
func TestLKConfigAbsentKeepsEmbeddedSFU(t *testing.T) {
	for name, cfg := range map[string]string{"no file": "", "no default": "projects:\n  - name: a\n    url: wss://a\n    api_key: k\n    api_secret: s\n"} {
		o, err := parseFlags(nil, env(map[string]string{"HOME": lkHome(t, cfg, 0o600)}))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if o.URL != "" || o.Credentials.URL != report.OriginEmbedded {
			t.Fatalf("%s: url %q creds %+v, want the embedded SFU", name, o.URL, o.Credentials)
		}
	}
}

// Every problem is a usage error naming the file (and the line, for bad
// YAML) or the project, never showing a secret.
func TestLKConfigErrors(t *testing.T) {
	cases := []struct {
		name, config string
		args         []string
		want         []string
	}{
		{"malformed", "default_project: dev\nprojects:\n  - name: dev\n   url: [\n", nil, []string{lkConfigPath, "line 2"}},
		{"wrong type", "projects: 3\n", []string{"--project", "x"}, []string{lkConfigPath, "line 1"}},
		{"unknown project", lkTwoProjects, []string{"--project", "prod"}, []string{"--project prod", "no such project", "dev, staging"}},
		{"unknown default", "default_project: gone\nprojects: []\n", nil, []string{"default_project gone", "none (lk project add"}},
		{"incomplete", "default_project: a\nprojects:\n  - name: a\n    url: wss://a.example\n    api_key: k\n", nil, []string{"project a", "api_secret"}},
		{"no file", "", []string{"--project", "dev"}, []string{"--project dev", "does not exist"}},
		{"--local", lkTwoProjects, []string{"--local", "--project", "dev"}, []string{"--local and --project"}},
		{"bad URL", "default_project: a\nprojects:\n  - name: a\n    url: ftp://a.example\n    api_key: k\n    api_secret: devsecret\n", nil, []string{"project a", "ws://"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseFlags(c.args, env(map[string]string{"HOME": lkHome(t, c.config, 0o600)}))
			var ue usageError
			if !errors.As(err, &ue) {
				t.Fatalf("err = %v, want a usage error", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "devsecret") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("%q shows the secret or spans lines", err)
			}
		})
	}
	if _, err := parseFlags([]string{"--project", "dev"}, env(nil)); err == nil || !strings.Contains(err.Error(), "HOME") {
		t.Fatalf("no HOME: %v", err)
	}
}

// The file is read through a limit: a huge one is refused, not held.
func TestLKConfigSizeLimit(t *testing.T) {
	home := lkHome(t, "# "+strings.Repeat("x", maxLKConfigBytes)+"\n", 0o600)
	_, err := parseFlags(nil, env(map[string]string{"HOME": home}))
	if !errors.Is(err, errFileTooLarge) && (err == nil || !strings.Contains(err.Error(), "more than")) {
		t.Fatalf("err = %v, want the size limit", err)
	}
}

func FuzzReadLKConfig(f *testing.F) {
	f.Add(lkTwoProjects)
	f.Add("default_project: [\n")
	f.Add("projects:\n  - name: a\n    url: 3\n")
	dir := f.TempDir()
	path := filepath.Join(dir, "cli-config.yaml")
	f.Fuzz(func(t *testing.T, s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		c, ok, err := readLKConfig(path)
		if err != nil {
			if ok || !strings.Contains(err.Error(), path) {
				t.Fatalf("ok %v, error %q lacks the path", ok, err)
			}
			return
		}
		if p, found := c.find(c.DefaultProject); found && p.Name != c.DefaultProject {
			t.Fatalf("find(%q) = %q", c.DefaultProject, p.Name)
		}
	})
}
