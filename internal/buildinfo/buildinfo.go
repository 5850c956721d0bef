// Package buildinfo holds the version stamped into the phantom binary.
package buildinfo

// Version is set at link time by the Makefile (-X); "dev" otherwise.
var Version = "dev"
