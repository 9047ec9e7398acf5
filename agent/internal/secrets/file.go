package secrets

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
)

// readFile reads a secret file: a regular file of at most maxFileBytes,
// without its trailing newline.
func readFile(path string) (string, error) {
	// Stat first, so that a FIFO or device is refused instead of blocking the
	// open or the read.
	fi, err := os.Stat(path)
	if err != nil {
		return "", fileError(path, err)
	}
	if !fi.Mode().IsRegular() {
		return "", fail(ErrInvalid, "%s on the agent's host is not a regular file (it is %s)", path, describeMode(fi.Mode()))
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fileError(path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return "", fail(ErrUnavailable, "read file %s on the agent's host: %v", path, err)
	}
	if len(data) > maxFileBytes {
		return "", fail(ErrInvalid, "file %s on the agent's host is larger than %d KiB; "+
			"a secret file must be smaller", path, maxFileBytes>>10)
	}
	s := string(data)
	if t, ok := strings.CutSuffix(s, "\n"); ok {
		s = strings.TrimSuffix(t, "\r")
	}
	return s, nil
}

func fileError(path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fail(ErrNotFound, "file %s does not exist on the agent's host; "+
			"create it there, or change the reference", path)
	case errors.Is(err, fs.ErrPermission):
		return fail(ErrAccessDenied, "the agent's user may not read file %s; "+
			"grant it read access, or change the reference", path)
	}
	// A *PathError says which path and which operation; the text never
	// holds the file's content.
	return fail(ErrUnavailable, "file %s on the agent's host: %v", path, err)
}

func describeMode(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "not a regular file"
}
