// Reads an ini file with go-ini, the parser of Grafana (default options) and Gitea/Forgejo (IgnoreContinuation),
// and prints each section's keys as Key.String() returns them, base64-encoded in JSON.
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
			m[k.Name()] = []byte(k.String())
		}
		out[s.Name()] = m
	}
	b, _ := json.Marshal(out)
	os.Stdout.Write(b)
}
