package cache

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/filesmount/filesmount/remote"
)

// fakeStore is an in-memory remote.Store whose content is generated from
// (ID, Version) and an offset, so that objects of any size cost no memory.
// It counts requests and body bytes, and can be told to ignore Range, be
// slow, hold bodies back, fail midway, send short bodies or corrupt a byte.
type fakeStore struct {
	name string

	requests  atomic.Int64
	bytesSent atomic.Int64 // body bytes actually read by the client
	aborted   atomic.Int64 // body reads ended by their request's context

	mu        sync.Mutex // protects the following
	rangeOK   bool
	caps      remote.Caps
	objects   map[string]remote.Entry
	opens     []openCall
	openErr   error         // returned by every Open
	openGate  chan struct{} // Open waits until it is closed
	latency   time.Duration // added to every Open
	trickle   *trickle      // bodies send only what it allows
	failAt    int64         // bodies fail on reaching this object offset (0: never)
	shortBy   int64         // bodies end this many bytes early
	extra     int64         // ranged bodies run this many bytes past the asked length
	wrongSize int64         // Body.Size reported instead of the true size (0: true size)
	flipAt    int64         // bodies covering this offset send its byte inverted...
	flips     int           // ...this many more bodies (-1: all)
}

type openCall struct {
	off, length int64
	callerCtx   bool // ctx carried the test caller's marker value
}

type ctxMarker struct{}

var errInjected = fmt.Errorf("fake: connection reset: %w", remote.ErrUnavailable)

func newFakeStore(name string, rangeOK bool) *fakeStore {
	return &fakeStore{
		name:    name,
		rangeOK: rangeOK,
		caps:    remote.Caps{RangeReads: rangeOK},
		objects: make(map[string]remote.Entry),
	}
}

// add creates object id with version "v1" and returns its entry.
func (f *fakeStore) add(id string, size int64) remote.Entry {
	e := remote.Entry{ID: id, Name: id, Size: size, Version: "v1", ModTime: time.Unix(1, 0)}
	f.mu.Lock()
	f.objects[id] = e
	f.mu.Unlock()
	return e
}

// addMD5 is add with Entry.MD5 set to the content's digest if right, else
// to a wrong one.
func (f *fakeStore) addMD5(id string, size int64, right bool) remote.Entry {
	e := f.add(id, size)
	h := md5.New()
	for off := int64(0); off < size; off += MiB {
		h.Write(content(e, off, MiB))
	}
	e.MD5 = h.Sum(nil)
	if !right {
		e.MD5[0] ^= 1
	}
	f.mu.Lock()
	f.objects[id] = e
	f.mu.Unlock()
	return e
}

// setVersion changes id's content and returns the new entry.
func (f *fakeStore) setVersion(id, version string) remote.Entry {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.objects[id]
	e.Version = version
	f.objects[id] = e
	return e
}

func (f *fakeStore) set(fn func(f *fakeStore)) {
	f.mu.Lock()
	fn(f)
	f.mu.Unlock()
}

func (f *fakeStore) calls() []openCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]openCall(nil), f.opens...)
}

// opensCovering counts Opens whose asked range includes offset off.
func (f *fakeStore) opensCovering(off int64) int {
	n := 0
	for _, c := range f.calls() {
		if c.off <= off && (c.length < 0 || off < c.off+c.length) {
			n++
		}
	}
	return n
}

func (f *fakeStore) Name() string { return f.name }

func (f *fakeStore) Caps() remote.Caps {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.caps
}

func (f *fakeStore) Root(context.Context) (remote.Entry, error) {
	return remote.Entry{ID: "/", IsDir: true}, nil
}

func (f *fakeStore) List(context.Context, remote.Entry) ([]remote.Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []remote.Entry
	for _, e := range f.objects {
		out = append(out, e)
	}
	return out, nil
}

func (f *fakeStore) Stat(_ context.Context, e remote.Entry) (remote.Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if cur, ok := f.objects[e.ID]; ok {
		return cur, nil
	}
	return remote.Entry{}, fmt.Errorf("fake: stat %s: %w", e.ID, remote.ErrNotFound)
}

func (f *fakeStore) Open(ctx context.Context, e remote.Entry, off, length int64) (*remote.Body, error) {
	f.requests.Add(1)
	f.mu.Lock()
	f.opens = append(f.opens, openCall{off: off, length: length, callerCtx: ctx.Value(ctxMarker{}) != nil})
	cur, ok := f.objects[e.ID]
	rangeOK, openErr, gate, latency := f.rangeOK, f.openErr, f.openGate, f.latency
	trickle, failAt, shortBy, extra, wrongSize := f.trickle, f.failAt, f.shortBy, f.extra, f.wrongSize
	f.mu.Unlock()

	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	switch {
	case openErr != nil:
		return nil, openErr
	case !ok:
		return nil, fmt.Errorf("fake: open %s: %w", e.ID, remote.ErrNotFound)
	}

	size := cur.Size
	body := &fakeBody{ctx: ctx, f: f, seed: seedOf(cur), trickle: trickle, failAt: failAt}
	rb := &remote.Body{ReadCloser: body, Size: size}
	if wrongSize != 0 {
		rb.Size = wrongSize
	}
	if rangeOK {
		end := size
		if length >= 0 {
			end = min(size, off+length+extra)
		}
		body.pos, body.end = off, end
		rb.Offset, rb.Ranged = off, true
	} else {
		body.pos, body.end = 0, size
	}
	body.end -= shortBy
	f.mu.Lock()
	if f.flips != 0 && body.pos <= f.flipAt && f.flipAt < body.end {
		body.flip, body.flipAt = true, f.flipAt
		if f.flips > 0 {
			f.flips--
		}
	}
	f.mu.Unlock()
	return rb, nil
}

// fakeBody streams generated content from pos to end.
type fakeBody struct {
	ctx      context.Context
	f        *fakeStore
	seed     uint64
	pos, end int64
	trickle  *trickle
	failAt   int64
	flip     bool // send the byte at flipAt inverted
	flipAt   int64
}

func (b *fakeBody) Read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		b.f.aborted.Add(1)
		return 0, err // as net/http does once the request's context ends
	}
	if b.pos >= b.end {
		return 0, io.EOF
	}
	if b.failAt > 0 && b.pos >= b.failAt {
		return 0, errInjected
	}
	limit := b.end
	if b.failAt > 0 {
		limit = min(limit, b.failAt)
	}
	if b.trickle != nil {
		allowed, err := b.trickle.wait(b.ctx, b.pos)
		if err != nil {
			b.f.aborted.Add(1)
			return 0, err
		}
		limit = min(limit, allowed)
	}
	n := int(min(int64(len(p)), limit-b.pos))
	fillContent(b.seed, b.pos, p[:n])
	if b.flip && b.pos <= b.flipAt && b.flipAt < b.pos+int64(n) {
		p[b.flipAt-b.pos] ^= 0xff
	}
	b.pos += int64(n)
	b.f.bytesSent.Add(int64(n))
	return n, nil
}

func (b *fakeBody) Close() error { return nil }

// trickle holds bodies back until the test allows more bytes.
type trickle struct {
	mu      sync.Mutex // protects the following
	allowed int64      // object offset bodies may send up to
	changed chan struct{}
}

func newTrickle() *trickle { return &trickle{changed: make(chan struct{})} }

func (t *trickle) allow(upTo int64) {
	t.mu.Lock()
	t.allowed = upTo
	close(t.changed)
	t.changed = make(chan struct{})
	t.mu.Unlock()
}

// wait blocks until bytes beyond pos are allowed and returns the limit.
func (t *trickle) wait(ctx context.Context, pos int64) (int64, error) {
	for {
		t.mu.Lock()
		allowed, changed := t.allowed, t.changed
		t.mu.Unlock()
		if allowed > pos {
			return allowed, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

func seedOf(e remote.Entry) uint64 {
	h := fnv.New64a()
	io.WriteString(h, e.ID+"\x00"+e.Version)
	return h.Sum64()
}

// fillContent writes the object bytes [off, off+len(p)) of seed into p.
func fillContent(seed uint64, off int64, p []byte) {
	for len(p) > 0 {
		if off%8 == 0 && len(p) >= 8 {
			binary.LittleEndian.PutUint64(p, splitmix(seed+uint64(off/8)))
			p, off = p[8:], off+8
			continue
		}
		p[0] = byte(splitmix(seed+uint64(off/8)) >> (8 * (off % 8)))
		p, off = p[1:], off+1
	}
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// content returns the expected bytes of e in [off, off+n), cut at e.Size.
func content(e remote.Entry, off int64, n int) []byte {
	if end := e.Size; end >= 0 && off+int64(n) > end {
		n = int(max(0, end-off))
	}
	p := make([]byte, n)
	fillContent(seedOf(e), off, p)
	return p
}
