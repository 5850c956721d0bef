package cluster

import (
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// StablePortBase returns a port p such that p..p+n-1 were all free on
// 127.0.0.1 a moment ago and lie below the kernel's ephemeral port range, so
// no outgoing connection or ":0" listener can take one of them while a
// process that owns it is down (a restarted process binds its ports again).
// It falls back to a run starting at a ":0" port when the range is unknown.
func StablePortBase(t testing.TB, n int) int {
	t.Helper()
	low := ephemeralLow()
	const floor = 10000
	if low-n <= floor {
		return ephemeralPortBase(t, n)
	}
	for range 200 {
		base := floor + rand.IntN(low-n-floor)
		if portsFree(base, n) {
			return base
		}
	}
	return ephemeralPortBase(t, n)
}

// ephemeralLow returns the first port of the kernel's ephemeral range, or
// 0 when unknown.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0
	}
	low, err := strconv.Atoi(f[0])
	if err != nil {
		return 0
	}
	return low
}

func portsFree(base, n int) bool {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := range n {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(base+i))
		if err != nil {
			return false
		}
		ls = append(ls, l)
	}
	return true
}
