package safefile_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/oneface/oneface/internal/safefile"
)

func Example() {
	dir, _ := os.MkdirTemp("", "safefile")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "pairs.csv"), []byte("a,b,same\n"), 0o600)

	d, err := safefile.OpenDir(dir)
	if err != nil {
		panic(err)
	}
	defer d.Close()
	b, err := d.ReadFile("pairs.csv", 64<<10)
	fmt.Printf("%q %v\n", b, err)
	_, err = d.ReadFile("../../etc/passwd", 64<<10)
	fmt.Println(errors.Is(err, safefile.ErrOutside))
	// Output:
	// "a,b,same\n" <nil>
	// true
}
