//go:build !unix

package source

import (
	"context"
	"io"
	"os"
)

// openFile opens path for reading (ctx cannot interrupt an open here).
func openFile(_ context.Context, path string) (*os.File, error) { return os.Open(path) }

// openStdin returns what a source of path "-" reads, as it is.
func openStdin(stdin io.Reader) io.ReadCloser { return io.NopCloser(stdin) }
