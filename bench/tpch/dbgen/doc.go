// Package dbgen generates TPC-H data. It is go-tpc's Go port of the
// official dbgen 2.4.0 (github.com/pingcap/go-tpc v1.0.7, tpch/dbgen,
// Apache License 2.0: see LICENSE and copyright), copied so that it can
// take the scale factors below 1 the official generator takes. Changes
// from upstream are marked "Phantom-DB:" — InitDbGen takes a float64 scale
// factor and validates it, InitDbGen can run again in the same process
// (distributions are reset, the text pool is built once), the text pool is
// built without a string per word, and DbGen prints nothing.
package dbgen
