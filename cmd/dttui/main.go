// Command dttui publishes LiveKit data tracks and shows, live, what happens
// to every track. This package holds flags and wiring only.
package main

import (
	"fmt"
	"os"
)

func main() {
	_, err := parseFlags(os.Args[1:], os.Getenv, os.Stderr)
	if err != nil {
		os.Exit(2)
	}
	fmt.Println("dttui: not yet wired (the session and UI land in the next commits)")
}
