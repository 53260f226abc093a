// Reads an ini file with go-ini, the parser of Grafana (default options) and Gitea/Forgejo (IgnoreContinuation),
// and prints each section's keys as Key.String() returns them (Key.Value() with a third argument "raw"),
// base64-encoded in JSON. A file go-ini refuses: its error on stderr, exit 1.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"gopkg.in/ini.v1"
)

func main() {
	opts := ini.LoadOptions{}
	if os.Args[1] == "gitea" {
		opts.IgnoreContinuation = true
	}
	f, err := ini.LoadSources(opts, os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out := map[string]map[string][]byte{}
	for _, s := range f.Sections() {
		m := map[string][]byte{}
		for _, k := range s.Keys() {
			if len(os.Args) > 3 && os.Args[3] == "raw" {
				m[k.Name()] = []byte(k.Value())
			} else {
				m[k.Name()] = []byte(k.String())
			}
		}
		out[s.Name()] = m
	}
	b, _ := json.Marshal(out)
	os.Stdout.Write(b)
}
