package vrchattest

import "sync/atomic"

// What happens to a version after the finish of its last entry. The
// entries' own statuses are what VRChat's SDK reads
// (VRCFile.IsLatestVersionWaiting/Queued/Errored in the SDK's VRCFile.cs
// check both the version's status and its file and signature entries'),
// but no recording shows the version-level status right after a finish
// (reference §2.4; real-servers.md, VRChat "Differs" 4). So each
// plausible answer is an option (Options.VersionStatusAfterFinish), and
// the tests run them all.

// Values of Options.VersionStatusAfterFinish.
const (
	// VersionComplete: the version is "complete" as soon as every entry
	// is (what every recorded File with data shows, at some later time).
	VersionComplete = "complete"
	// VersionQueued: the version is "queued" (processing) for
	// QueuedPolls GET /file/{id} (at least one), then "complete". The
	// legacy SDK (ApiFileHelper) polls while a version is queued.
	VersionQueued = "queued"
	// VersionWaiting: the finish does not touch the version-level status,
	// which stays "waiting" for QueuedPolls polls (at least one) while the
	// entries are complete, and is updated to "complete" later.
	VersionWaiting = "waiting"
)

// Values of Options.LargeCategory.
const (
	// CategoryMultipart is what a recorded 303 MB entry had.
	CategoryMultipart = "multipart"
	// CategoryQueued is FileData.category's default in the spec
	// (schemas/FileData.yaml), never recorded on an entry. The SDK
	// uploads every category but "simple" in parts (VRCApi.UploadFile:
	// `if (fileCategory != "simple") UploadMultipart(...)`).
	CategoryQueued = "queued"
)

// completionOptions normalises the options of this file (called by New).
func (o *Options) completionDefaults() {
	if o.VersionStatusAfterFinish == "" {
		o.VersionStatusAfterFinish = VersionComplete
		if o.QueuedPolls > 0 { // QueuedPolls alone meant "queued" before the option existed
			o.VersionStatusAfterFinish = VersionQueued
		}
	}
	if o.VersionStatusAfterFinish != VersionComplete {
		o.QueuedPolls = max(o.QueuedPolls, 1)
	}
	if o.LargeCategory == "" {
		o.LargeCategory = CategoryMultipart
	}
}

// entryErrors holds the kind of entry ("file", "signature", "delta")
// whose finishes end in "error" (SetEntryError); "" for none.
type entryErrors struct{ kind atomic.Pointer[string] }

func (e *entryErrors) is(kind string) bool {
	k := e.kind.Load()
	return k != nil && *k == kind
}

// SetEntryError makes the finishes of entries of that kind ("file",
// "signature" or "delta") accepted from now on end with the entry in
// status "error" (VRChat failed to process it; the SDK's
// VRCFile.IsLatestVersionErrored looks for exactly this), leaving the
// version-level status "waiting". "" turns it off. Entries already in
// error stay so.
func (s *Server) SetEntryError(kind string) { s.entryErr.kind.Store(&kind) }

// completePartLocked publishes o as the part's object and moves the entry
// on: "error" (SetEntryError), "queued" for Options.EntryQueuedPolls
// polls, or "complete"; then settles the version if every entry is
// complete.
func (s *Server) completePartLocked(p *part, o *object) {
	if o.contentType == "" {
		o.contentType = contentTypeOf(p)
	}
	old := p.obj
	p.obj = o
	old.remove()
	switch {
	case s.entryErr.is(p.kind):
		p.status = "error"
	case s.opts.EntryQueuedPolls > 0:
		p.status, p.queuedLeft = "queued", s.opts.EntryQueuedPolls
	default:
		p.status = "complete"
	}
	s.settleVersionLocked(p.v)
}

// settleVersionLocked gives a version whose entries just all became
// complete its status after the finish (Options.VersionStatusAfterFinish).
// It runs once per version.
func (s *Server) settleVersionLocked(v *version) {
	if v.settled || v.status != "waiting" {
		return
	}
	for _, q := range v.parts() {
		if q.status != "complete" {
			return
		}
	}
	v.settled = true
	switch {
	case s.stayQueued.Load():
		v.status, v.queuedLeft = "queued", -1 // forever, like a fixture's "queued"
	case s.opts.VersionStatusAfterFinish == VersionQueued:
		v.status, v.queuedLeft = "queued", s.opts.QueuedPolls
	case s.opts.VersionStatusAfterFinish == VersionWaiting:
		v.queuedLeft = s.opts.QueuedPolls // still "waiting"
	default:
		v.status = "complete"
	}
}

// pollLocked advances what GET /file/{id} polls count: queued entries,
// then versions queued (or left waiting) after their finish. Called after
// the answer was built, so a count of N means N answers show the state.
func (s *Server) pollLocked(f *file) {
	for _, v := range f.versions {
		for _, p := range v.parts() {
			if p.status == "queued" && p.queuedLeft > 0 {
				if p.queuedLeft--; p.queuedLeft == 0 {
					p.status = "complete"
				}
			}
		}
		if v.settled && (v.status == "queued" || v.status == "waiting") && v.queuedLeft > 0 {
			if v.queuedLeft--; v.queuedLeft == 0 {
				v.status = "complete"
			}
		}
		s.settleVersionLocked(v)
	}
}

// servable says whether downloads of the version are served: "complete",
// or left "waiting" by VersionWaiting once its entries are complete (the
// data is stored; only the version record lags).
func (v *version) servable() bool {
	return v.status == "complete" || v.status == "waiting" && v.settled
}

// multipart says whether the entry takes a multipart upload: every
// category but "simple", as the SDK decides.
func (p *part) multipart() bool { return p.category != "simple" }
