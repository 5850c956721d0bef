// Package chaos runs workloads against a real log service group (three
// `phantom logservice` processes with their Raft traffic through fault
// proxies) and a page server, while a seeded Nemesis kills, pauses and
// partitions replicas, and checks the recorded histories against models:
// porcupine for linearizability of a register workload, a constant total
// for a bank workload, and the replicas' logs against every acknowledged
// commit.
//
// `make test` runs a few short seeded runs; `make chaos` runs more
// (PHANTOM_CHAOS_RUNS, PHANTOM_CHAOS_DURATION, PHANTOM_CHAOS_SEED).
package chaos
