// Command gen writes keytrail's Grafana dashboards (dashboards/json) and the
// alert rule provisioning file from the code in package dashboards. Run it
// from the dashboards directory (go generate ./dashboards does), or give the
// directory as the only argument.
package main

import (
	"fmt"
	"os"

	"github.com/keytrail/keytrail/dashboards"
)

func main() {
	dir := "."
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	names, err := dashboards.WriteFiles(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dashboards gen:", err)
		os.Exit(1)
	}
	for _, n := range names {
		fmt.Println("wrote", n)
	}
}
