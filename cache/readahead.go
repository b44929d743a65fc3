package cache

import "github.com/filesmount/filesmount/remote"

// stream is the read-ahead state of one object of one Store.
//
// The window is how many blocks, counting the one being read, a stream
// keeps requested. A read is sequential when it starts where the previous
// one ended or inside the block the previous one ended in (the kernel may
// reorder or repeat reads slightly). Sequential reads double the window,
// up to Options.MaxReadAhead; any other read resets it to 1: only the
// block needed is fetched.
type stream struct {
	next   int64 // offset just past the previous read
	window int   // blocks requested from the one being read on
	ahead  int64 // first block this stream has not asked for yet
}

// span is an inclusive range of block indexes; empty when last < first.
type span struct{ first, last int64 }

func (r span) empty() bool { return r.last < r.first }

var noSpan = span{0, -1}

// planReadAhead updates e's stream for a read of [off, end) and returns
// the blocks to fetch ahead of it. It never goes beyond e.Size and does
// nothing when the size is unknown, since the end could not be respected.
func (s *Store) planReadAhead(e remote.Entry, off, end int64) span {
	bs := s.c.opts.BlockSize
	lastRead := (end - 1) / bs

	s.raMu.Lock()
	defer s.raMu.Unlock()
	st, ok := s.streams.Get(e.ID)
	if !ok {
		// A new stream starts at 0 with next == 0, so a first read at 0
		// counts as sequential: most files are read from the start.
		st = &stream{window: 1}
		s.streams.Add(e.ID, st)
	}
	sequential := off == st.next || (st.next > 0 && off/bs == (st.next-1)/bs)
	st.next = end
	if st.ahead <= lastRead {
		st.ahead = lastRead + 1 // the read itself fetches up to lastRead
	}
	if !sequential {
		st.window = 1
		st.ahead = lastRead + 1
		return noSpan
	}
	if e.Size < 0 {
		return noSpan
	}
	// Refill when no more than half a window is left ahead of the reader,
	// so each refill is one ranged request of several blocks rather than
	// one request per block.
	if remaining := st.ahead - (lastRead + 1); remaining*2 > int64(st.window) {
		return noSpan
	}
	st.window = min(st.window*2, s.maxWindow())
	target := min(lastRead+int64(st.window)-1, (e.Size-1)/bs)
	if target < st.ahead {
		return noSpan
	}
	r := span{st.ahead, target}
	st.ahead = target + 1
	return r
}

// maxWindow caps read-ahead so that it cannot flush the LRU it fills: a
// stream may use at most a quarter of the cache.
func (s *Store) maxWindow() int {
	quarter := int(s.c.opts.MaxBytes / s.c.opts.BlockSize / 4)
	return max(1, min(s.c.opts.MaxReadAhead, quarter))
}

func (s *Store) forgetStream(id string) {
	s.raMu.Lock()
	s.streams.Remove(id)
	s.raMu.Unlock()
}
