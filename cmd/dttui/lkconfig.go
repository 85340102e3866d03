package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// lkConfigPath is where the LiveKit CLI (lk) keeps its projects, under
// the home directory.
const lkConfigPath = ".livekit/cli-config.yaml"

// maxLKConfigBytes is the most of lk's config dttui reads: a few projects
// take a few KiB, and a larger file is refused before it is held.
const maxLKConfigBytes = 1 << 20

// lkProject is one project of lk's config: a server and its credentials.
type lkProject struct {
	Name      string `yaml:"name"`
	URL       string `yaml:"url"`
	APIKey    string `yaml:"api_key"`
	APISecret string `yaml:"api_secret"`
}

// lkConfig is the part of lk's cli-config.yaml dttui reads; lk's other
// keys (users, theme…) are left alone.
type lkConfig struct {
	DefaultProject string      `yaml:"default_project"`
	Projects       []lkProject `yaml:"projects"`
}

// lkSource is the project the command line settled on, and the file it
// came from.
type lkSource struct {
	project lkProject
	path    string
	// isDefault: the config's default_project, not --project.
	isDefault bool
}

// readLKConfig reads lk's config at path. A missing file is no config
// (ok false); an unreadable or malformed one is an error naming the file
// and, for YAML, the line.
func readLKConfig(path string) (c lkConfig, ok bool, err error) {
	b, err := readFileAtMost(path, maxLKConfigBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return c, false, nil
	}
	if err != nil {
		return c, false, err
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		// yaml's errors say "yaml: line 3: …", one line per problem.
		msg := strings.ReplaceAll(strings.TrimPrefix(err.Error(), "yaml: "), "\n", ";")
		return c, false, fmt.Errorf("%s: not the LiveKit CLI's config: %s", path, msg)
	}
	return c, true, nil
}

// find returns the project named name.
func (c lkConfig) find(name string) (lkProject, bool) {
	for _, p := range c.Projects {
		if p.Name == name {
			return p, true
		}
	}
	return lkProject{}, false
}

func (c lkConfig) names() string {
	var ns []string
	for _, p := range c.Projects {
		ns = append(ns, p.Name)
	}
	if len(ns) == 0 {
		return "none (lk project add makes one)"
	}
	return strings.Join(ns, ", ")
}

// lkProjectFor is the project lk's config gives the command line: the
// one --project names, else, when no URL was given by flag or
// environment, the default project. Nil: none applies. The default is
// never used with a URL from elsewhere, so that its key is not used to
// mint tokens for another server.
func lkProjectFor(o *options, haveURL bool, getenv func(string) string) (*lkSource, error) {
	home := getenv("HOME")
	if o.Project == "" && (haveURL || o.Local || home == "") {
		return nil, nil
	}
	if home == "" {
		return nil, usagef("--project %s: HOME is not set, so the LiveKit CLI's config (~/%s) cannot be found", o.Project, lkConfigPath)
	}
	path := filepath.Join(home, lkConfigPath)
	c, ok, err := readLKConfig(path)
	switch {
	case err != nil && o.Project == "":
		return nil, usagef("%v (the default project is read from it when no --url is given; --local for the embedded SFU)", err)
	case err != nil:
		return nil, usagef("--project %s: %v", o.Project, err)
	case !ok && o.Project != "":
		return nil, usagef("--project %s: %s does not exist (lk project add makes it)", o.Project, path)
	case !ok:
		return nil, nil
	}
	src := &lkSource{path: path}
	name := o.Project
	if name == "" {
		if c.DefaultProject == "" {
			return nil, nil
		}
		name, src.isDefault = c.DefaultProject, true
	}
	p, found := c.find(name)
	if !found {
		what := "--project " + name
		if src.isDefault {
			what = "default_project " + name
		}
		return nil, usagef("%s: no such project in %s; it has: %s", what, path, c.names())
	}
	if p.URL == "" || p.APIKey == "" || p.APISecret == "" {
		return nil, usagef("project %s in %s lacks its url, api_key or api_secret", name, path)
	}
	src.project = p
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		o.Notices = append(o.Notices, fmt.Sprintf("%s holds API secrets and can be read by other users (mode %04o); chmod 600 it", path, fi.Mode().Perm()))
	}
	return src, nil
}
