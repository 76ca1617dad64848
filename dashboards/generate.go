package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/keytrail/keytrail/store"
)

//go:generate go run ./cmd/gen

// GenerateCommand regenerates the committed files from the code.
const GenerateCommand = "go generate ./dashboards"

// Generate renders keytrail's dashboards and alert rule for dialect d: the
// file name within Files() (json/<uid>.json, AlertFile) to its bytes. With
// GrafanaDialect it gives the committed files.
func Generate(d store.Dialect) (map[string][]byte, error) {
	ds, err := Build(d)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	alertPanel := 0
	for _, db := range ds {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(db); err != nil {
			return nil, fmt.Errorf("encode dashboard %s: %w", *db.Uid, err)
		}
		out["json/"+*db.Uid+".json"] = b.Bytes()
		if *db.Uid == ExceptionsUID {
			for _, p := range db.Panels {
				if p.Panel != nil && p.Panel.Title != nil && *p.Panel.Title == ExceptionsListTitle {
					alertPanel = int(*p.Panel.Id)
				}
			}
		}
	}
	if alertPanel == 0 {
		return nil, fmt.Errorf("no panel %q on %s for the alert rule", ExceptionsListTitle, ExceptionsUID)
	}
	if out[AlertFile], err = alertYAML(d, alertPanel); err != nil {
		return nil, err
	}
	return out, nil
}

// WriteFiles generates the committed files into dir (the dashboards
// directory), removing dashboards json/ holds that are no longer generated.
func WriteFiles(dir string) ([]string, error) {
	files, err := Generate(GrafanaDialect)
	if err != nil {
		return nil, err
	}
	old, err := filepath.Glob(filepath.Join(dir, "json", "*.json"))
	if err != nil {
		return nil, err
	}
	for _, f := range old {
		rel, _ := filepath.Rel(dir, f)
		if _, keep := files[filepath.ToSlash(rel)]; !keep {
			if err := os.Remove(f); err != nil {
				return nil, err
			}
		}
	}
	var names []string
	for name, b := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}
