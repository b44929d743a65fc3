package main

import (
	"log"
	"net"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof on the default mux
	"os"
)

// startProfiler serves net/http/pprof when FILESMOUNT_PPROF names a
// loopback address (e.g. 127.0.0.1:6060), for investigating performance.
// Profiles carry no credentials, but the listener is kept off the network.
func startProfiler(logger *log.Logger) {
	addr := os.Getenv("FILESMOUNT_PPROF")
	if addr == "" {
		return
	}
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		logger.Printf("FILESMOUNT_PPROF=%s ignored: want a loopback address such as 127.0.0.1:6060", addr)
		return
	}
	go func() {
		logger.Printf("profiler on http://%s/debug/pprof/", addr)
		if err := http.ListenAndServe(addr, nil); err != nil {
			logger.Printf("profiler: %v", err)
		}
	}()
}
