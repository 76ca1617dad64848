package demo

import (
	"errors"
	"fmt"
	"time"
)

// Airflow versions an Instance can imitate.
const (
	Airflow210 = "2.10" // /api/v1 eventLogs and dagRuns; UI view names, api.* and cli_* events
	Airflow31  = "3.1"  // /api/v2 eventLogs and dagRuns with triggered_by and triggering_user_name
)

// File shapes an Instance can be written in.
const (
	ShapePages  = "pages"  // one REST API page per line ({"event_logs":[…],"total_entries":n})
	ShapeNDJSON = "ndjson" // one record per line
)

// Default policy the intent is computed under (DESIGN.md "Verdicts").
const (
	PrivilegedMaxAge = 15 * time.Minute
	HumanMaxAge      = 12 * time.Hour
	ClockSkew        = 5 * time.Second
)

// DefaultStart is the first day generated when Config.Start is zero: a Monday.
var DefaultStart = time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)

// Instance describes one Airflow deployment.
type Instance struct {
	// Name is the keytrail instance name and the prefix of action ids.
	Name string `json:"name"`
	// Version is Airflow210 or Airflow31.
	Version string `json:"version"`
	// Shape is ShapePages or ShapeNDJSON.
	Shape string `json:"shape"`
	// DAGs is the number of DAGs deployed (default 30).
	DAGs int `json:"dags"`
}

// DefaultInstances are used when Config.Instances is empty: a 3.1
// production instance written as API pages, a 2.10 legacy instance written as
// API pages and a 3.1 ML instance written as NDJSON.
func DefaultInstances() []Instance {
	return []Instance{
		{Name: "af-prod", Version: Airflow31, Shape: ShapePages, DAGs: 30},
		{Name: "af-legacy", Version: Airflow210, Shape: ShapePages, DAGs: 30},
		{Name: "af-ml", Version: Airflow31, Shape: ShapeNDJSON, DAGs: 30},
	}
}

// Config sizes the organisation. The zero value means all defaults, which
// give about a million records in total.
type Config struct {
	// People is the number of people (default 200). At least 8 are needed
	// for every scenario to appear.
	People int
	// Days is the length of the period (default 30).
	Days int
	// Seed seeds the PCG generator; the same seed gives the same files.
	Seed uint64
	// Start is the first day, truncated to midnight UTC (default DefaultStart).
	Start time.Time
	// Instances are the Airflow deployments (default DefaultInstances).
	Instances []Instance
	// ViewsPerDay is the mean number of page views an Airflow user makes on
	// a working day (default 60).
	ViewsPerDay int
	// PrivilegedPerDay is the mean number of privileged actions an operator
	// makes on a working day (default 3).
	PrivilegedPerDay int
	// TasksPerDAG is the mean number of tasks in a DAG (default 12, at most 24); it drives
	// the number of task-state rows.
	TasksPerDAG int
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.People == 0 {
		c.People = 200
	}
	if c.Days == 0 {
		c.Days = 30
	}
	if c.Start.IsZero() {
		c.Start = DefaultStart
	}
	c.Start = c.Start.UTC().Truncate(24 * time.Hour)
	if len(c.Instances) == 0 {
		c.Instances = DefaultInstances()
	}
	inst := make([]Instance, len(c.Instances))
	copy(inst, c.Instances)
	for i := range inst {
		if inst[i].DAGs == 0 {
			inst[i].DAGs = 30
		}
		if inst[i].Shape == "" {
			inst[i].Shape = ShapePages
		}
	}
	c.Instances = inst
	if c.ViewsPerDay == 0 {
		c.ViewsPerDay = 60
	}
	if c.PrivilegedPerDay == 0 {
		c.PrivilegedPerDay = 3
	}
	if c.TasksPerDAG == 0 {
		c.TasksPerDAG = 12
	}
	return c
}

// Validate reports every problem with c (after defaults) together.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.People < 8 {
		errs = append(errs, fmt.Errorf("people %d: want at least 8", c.People))
	}
	if c.People > 100000 {
		errs = append(errs, fmt.Errorf("people %d: want at most 100000", c.People))
	}
	if c.Days < 1 || c.Days > 366 {
		errs = append(errs, fmt.Errorf("days %d: want 1..366", c.Days))
	}
	if c.TasksPerDAG > 24 {
		errs = append(errs, fmt.Errorf("tasks per DAG %d: want at most 24", c.TasksPerDAG))
	}
	if c.ViewsPerDay < 0 || c.PrivilegedPerDay < 0 || c.TasksPerDAG < 0 {
		errs = append(errs, errors.New("views, privileged actions and tasks per day must not be negative"))
	}
	seen := map[string]bool{}
	has := map[string]bool{}
	for i, in := range c.Instances {
		switch {
		case in.Name == "":
			errs = append(errs, fmt.Errorf("instance %d: empty name", i))
		case seen[in.Name]:
			errs = append(errs, fmt.Errorf("instance %q: duplicate name", in.Name))
		}
		seen[in.Name] = true
		if in.Version != Airflow210 && in.Version != Airflow31 {
			errs = append(errs, fmt.Errorf("instance %q: version %q: want %s or %s", in.Name, in.Version, Airflow210, Airflow31))
		}
		has[in.Version] = true
		if in.Shape != ShapePages && in.Shape != ShapeNDJSON {
			errs = append(errs, fmt.Errorf("instance %q: shape %q: want %s or %s", in.Name, in.Shape, ShapePages, ShapeNDJSON))
		}
		if in.DAGs < 4 || in.DAGs > 10000 {
			errs = append(errs, fmt.Errorf("instance %q: dags %d: want 4..10000", in.Name, in.DAGs))
		}
	}
	if !has[Airflow210] || !has[Airflow31] {
		errs = append(errs, errors.New("instances: want at least one 2.10 and one 3.1 instance"))
	}
	return errors.Join(errs...)
}
