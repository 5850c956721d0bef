// Command phantom is Phantom-DB's single binary.
package main

import (
	"fmt"

	"github.com/phantom-db/phantom/internal/buildinfo"
)

func main() {
	fmt.Println("phantom", buildinfo.Version)
}
