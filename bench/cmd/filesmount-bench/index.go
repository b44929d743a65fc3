//go:build linux

package main

import (
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/filesmount/filesmount/remote/cbrain/cbraintest"
)

// indexServer is the HTTP index `rclone mount :http:` reads: Apache-style
// directory pages whose files are the emulators' objects.
//
//	/vrchat/seq.bin, rand.bin, reread.bin      GET: 302 to the VRChat object's pre-signed storage URL
//	/fresh/freshNN.bin                         GET: 302 likewise (VRChat "Fresh" versions)
//	/listN/fNNNNN.dat                          the CBRAIN ListN userfiles' bytes, served here
//
// HEAD is answered here (size and time), because the pre-signed storage
// URLs are signed for GET only, as on S3. Requests are counted by kind.
type indexServer struct {
	srv  *http.Server
	url  string
	dirs map[string][]indexEntry // "vrchat" -> entries

	mu    sync.Mutex
	count map[string]int64
	n     atomic.Int64
}

type indexEntry struct {
	name     string
	size     int64
	location string // redirect target, or "" to serve src
	src      io.ReaderAt
}

var indexTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func (b *bench) startIndex() error {
	ix := &indexServer{dirs: map[string][]indexEntry{}, count: map[string]int64{}}
	redirect := func(dir, name, fileID string, v int, size int64) error {
		loc, err := b.vrLocation(fileID, v)
		if err != nil {
			return err
		}
		ix.dirs[dir] = append(ix.dirs[dir], indexEntry{name: name, size: size, location: loc})
		return nil
	}
	if err := redirect("vrchat", "seq.bin", b.vrIDs["Seq"], 1, b.c.size); err != nil {
		return err
	}
	if err := redirect("vrchat", "rand.bin", b.vrIDs["Rand"], 1, b.c.size); err != nil {
		return err
	}
	if err := redirect("vrchat", "reread.bin", b.vrIDs["Reread"], 1, b.c.rereadSize); err != nil {
		return err
	}
	for i := 1; i <= b.c.reps*freshFiles; i++ {
		if err := redirect("fresh", freshName(i), b.vrIDs["Fresh"], i, freshSize); err != nil {
			return err
		}
	}
	for l := 1; l <= b.c.reps; l++ {
		dir := fmt.Sprintf("list%d", l)
		for i := 0; i < b.c.listEntries; i++ {
			ix.dirs[dir] = append(ix.dirs[dir], indexEntry{name: listName(i), size: listSize,
				src: cbraintest.DeterministicContent(int64(l*100000+i), listSize)})
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ix.url = "http://" + ln.Addr().String() + "/"
	ix.srv = &http.Server{Handler: ix, ReadHeaderTimeout: 30 * time.Second}
	go ix.srv.Serve(ln) //nolint:errcheck
	b.index = ix
	return nil
}

func (ix *indexServer) close() { ix.srv.Close() }

func (ix *indexServer) counted(kind string) {
	ix.n.Add(1)
	ix.mu.Lock()
	ix.count[kind]++
	ix.mu.Unlock()
}

func (ix *indexServer) snapshot() map[string]int64 {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	c := make(map[string]int64, len(ix.count))
	for k, v := range ix.count {
		c[k] = v
	}
	return c
}

func (ix *indexServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := strings.Trim(r.URL.Path, "/")
	if r.URL.Path == "/" || strings.HasSuffix(r.URL.Path, "/") {
		ix.counted(r.Method + " dir")
		var names []string
		if p == "" {
			for d := range ix.dirs {
				names = append(names, d+"/")
			}
			sort.Strings(names)
		} else if es, ok := ix.dirs[p]; ok {
			for _, e := range es {
				names = append(names, e.name)
			}
		} else {
			http.NotFound(w, r)
			return
		}
		var sb strings.Builder
		sb.WriteString("<!DOCTYPE html>\n<html><head><title>Index of /" + html.EscapeString(p) + "</title></head><body>\n<h1>Index of /" + html.EscapeString(p) + "</h1>\n<pre>\n")
		for _, n := range names {
			fmt.Fprintf(&sb, "<a href=\"%s\">%s</a>\n", html.EscapeString(n), html.EscapeString(n))
		}
		sb.WriteString("</pre></body></html>\n")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Last-Modified", indexTime.Format(http.TimeFormat))
		w.Write([]byte(sb.String()))
		return
	}
	dir, name := filepath.Split(p)
	dir = strings.Trim(dir, "/")
	var e *indexEntry
	for i := range ix.dirs[dir] {
		if ix.dirs[dir][i].name == name {
			e = &ix.dirs[dir][i]
			break
		}
	}
	if e == nil {
		// a directory asked for without its slash
		if _, ok := ix.dirs[p]; ok {
			ix.counted(r.Method + " dir")
			http.Redirect(w, r, "/"+p+"/", http.StatusMovedPermanently)
			return
		}
		ix.counted(r.Method + " unknown")
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	switch {
	case r.Method == http.MethodHead:
		ix.counted("HEAD file")
		h.Set("Content-Length", strconv.FormatInt(e.size, 10))
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Last-Modified", indexTime.Format(http.TimeFormat))
		h.Set("Accept-Ranges", "bytes")
	case e.location != "":
		ix.counted("GET file (302 to storage)")
		http.Redirect(w, r, e.location, http.StatusFound)
	default:
		ix.counted("GET file")
		http.ServeContent(w, r, e.name, indexTime, io.NewSectionReader(e.src, 0, e.size))
	}
}

// ---- rclone ----

func rcloneAvailable() bool {
	_, err := exec.LookPath("rclone")
	return err == nil
}

func (b *bench) startRclone() error {
	if err := b.startIndex(); err != nil {
		return fmt.Errorf("HTTP index: %w", err)
	}
	return b.mountRclone()
}

func (b *bench) mountRclone() error {
	b.rcMnt = filepath.Join(b.work, "rclone-mnt")
	if err := os.MkdirAll(b.rcMnt, 0o755); err != nil {
		return err
	}
	// The same metadata TTL (60 s) and attribute TTL (1 s) as filesmount;
	// everything else is rclone's default (--vfs-cache-mode off).
	args := []string{"mount", ":http:", b.rcMnt, "--http-url", b.index.url, "--read-only",
		"--dir-cache-time", "60s", "--attr-timeout", "1s", "--config", filepath.Join(b.work, "rclone.conf"),
		"--log-level", "NOTICE"}
	p, err := startProc("rclone", filepath.Join(b.work, "rclone.log"), nil, "rclone", args...)
	if err != nil {
		return err
	}
	b.rclone = p
	if err := waitMounted(p, b.rcMnt, "vrchat"); err != nil {
		p.stop(b.rcMnt, 5*time.Second)
		b.rclone = nil
		return err
	}
	logf("rclone mounted the HTTP index %s at %s (pid %d)", b.index.url, b.rcMnt, p.pid())
	return nil
}

func (b *bench) restartRclone() error {
	b.rclone.stop(b.rcMnt, 15*time.Second)
	b.rclone = nil
	return b.mountRclone()
}

func (b *bench) stopRclone() {
	if b.rclone != nil {
		b.rclone.stop(b.rcMnt, 15*time.Second)
		b.rclone = nil
	}
}
