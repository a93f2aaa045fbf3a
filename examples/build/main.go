// Command build zips an example function for Lambda:
//
//	go run ./examples/build hello            # writes hello.zip
//	go run ./examples/build -o fn.zip hello
//
// The zip holds one executable, bootstrap, for the provided.al2023
// runtime, built for Linux on this machine's architecture.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluice-cd/sluice/internal/fnbuild"
)

func main() {
	out := flag.String("o", "", "where to write the zip (default NAME.zip)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: go run ./examples/build [-o FILE] NAME   (a directory under examples/functions)")
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	name := flag.Arg(0)
	zip, err := fnbuild.Zip(context.Background(), ".", "./"+filepath.ToSlash(filepath.Join("examples", "functions", name)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(1)
	}
	if *out == "" {
		*out = name + ".zip"
	}
	if err := os.WriteFile(*out, zip, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %s (%d bytes, architecture %s)\n", *out, len(zip), fnbuild.Architecture())
}
