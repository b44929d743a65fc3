package cbraintest

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// The display action, GET /userfiles/:id/display(.json), as the real
// portal plays it for the FileCollection viewer. Sources (aces/cbrain):
//   - uc.rb = BrainPortal/app/controllers/userfiles_controller.rb, #display
//   - fc.rb = BrainPortal/cbrain_plugins/cbrain-plugins-base/userfiles/file_collection/file_collection.rb
//     (has_viewer :name => 'Directory Content', :partial => :file_collection, :if => :is_locally_synced?)
//   - the template file_collection/views/_file_collection.json.erb: `<%= @userfile.list_files.to_json %>`
//   - dp.rb = BrainPortal/app/models/data_provider.rb, #cache_collection_index, and
//     BrainPortal/app/models/file_info.rb (FileInfo)
//   - BrainPortal/app/views/userfiles/_viewer_errors.html.erb (exists only as HTML)
//   - BrainPortal/lib/exception_helpers.rb, #generic_exception

// DisplayOptions choose how the display action plays what no real portal
// has ever been recorded doing. The zero value is what the source says.
type DisplayOptions struct {
	// PlainJSON: a synced collection's listing comes as plain JSON.
	// Default: HTML-escaped JSON (`[{&quot;name&quot;:...`): Rails' ERB
	// handler escapes the output of `<%=` in every template, .json.erb
	// included, unless it is html_safe, and to_json's result is not.
	PlainJSON bool
	// ViewerErrors: an unsynced collection gets the viewer_errors partial
	// (200 text/html, the viewer's reasons in a <div>), and nothing is
	// filed. Default: that partial exists only as .html.erb, so rendering
	// it for a JSON request raises ActionView::MissingTemplate, and the
	// action's rescue answers 200 text/html with a warning after filing an
	// error message and an exception log entry (uc.rb #display).
	ViewerErrors bool
	// TimeZone is the portal host's time zone: File.lstat's times are
	// local Ruby Times, rendered with their UTC offset. nil: time.Local.
	TimeZone *time.Location
}

// DisplayVariant is one play of the display action's unrecorded answers.
type DisplayVariant struct {
	Name string
	Opts DisplayOptions
}

// DisplayVariants are every play of DisplayOptions worth running: tests of
// collections run them all, since no real portal has been recorded.
var DisplayVariants = []DisplayVariant{
	{"default", DisplayOptions{}},
	{"PlainJSON", DisplayOptions{PlainJSON: true}},
	{"ViewerErrors", DisplayOptions{ViewerErrors: true}},
	{"TimeZone-0500", DisplayOptions{TimeZone: time.FixedZone("EST", -5*3600)}},
}

// countPortalReports counts what the real portal files when an action
// fails inside its rescue: Message.send_message (an error message to the
// user) and ExceptionLog.log_exception.
func (s *Server) countPortalReports(messages, exceptions int64) {
	s.statsMu.Lock()
	s.stats.ErrorMessages += messages
	s.stats.ExceptionLogs += exceptions
	s.statsMu.Unlock()
}

// hDisplay is uc.rb #display for a JSON request.
func (s *Server) hDisplay(c *call) {
	s.mu.Lock()
	f := s.findReadable(c)
	var (
		coll, synced, online bool
		root, name           string
	)
	if f != nil {
		p := s.st.providers[f.dpID]
		coll, root, name = f.coll, f.data, f.name
		online = p != nil && p.online
		synced = f.stored && p != nil && (!p.remote || f.cached)
	}
	s.mu.Unlock()
	if f == nil {
		// userfile_for_viewer raises RecordNotFound inside #display; its
		// rescue logs the exception, then fails itself on @userfile.name
		// (nil), and that NoMethodError reaches generic_exception, which
		// logs it too and sends an internal error message: 500 JSON.
		s.countPortalReports(1, 2)
		c.json(http.StatusInternalServerError, map[string]string{"error": "undefined method `name' for nil:NilClass"})
		return
	}
	viewer := c.get("viewer")
	if !coll || (viewer != "file_collection" && viewer != "Directory Content") {
		// Simplification: only the collection viewer is emulated; every
		// other viewer is answered as one the portal does not know.
		c.w.Header().Set("Content-Type", "text/html; charset=utf-8")
		c.w.WriteHeader(http.StatusNotFound)
		c.w.Write([]byte(`<div class="warning">Could not find viewer ` + htmlEscape(viewer) + `.</div>`))
		return
	}
	if c.get("content_viewer") != "off" && !synced {
		// The viewer's condition is_locally_synced? (fc.rb) fails: a
		// provider that is not fast-syncing is never synced inline.
		if s.opts.Display.ViewerErrors {
			c.w.Header().Set("Content-Type", "text/html; charset=utf-8")
			c.w.WriteHeader(http.StatusOK)
			c.w.Write([]byte("\n<div>\n    Viewer invalid for this file (no reason given)\n    <br>\n</div>\n"))
			return
		}
		s.displayRescue(c, name)
		return
	}
	if c.get("apply_div") != "false" {
		// render :action => :display: only display.html.erb exists, so a
		// JSON request raises MissingTemplate, rescued as below.
		s.displayRescue(c, name)
		return
	}
	if !online { // cache_collection_index: cb_error "Error: provider ... is offline."
		s.displayRescue(c, name)
		return
	}
	list, err := listCollection(root, name, s.opts.Display.TimeZone)
	if err != nil {
		s.displayRescue(c, name)
		return
	}
	body, err := json.Marshal(list) // escapes < > & as \u003c..., as ActiveSupport does
	if err != nil {
		s.displayRescue(c, name)
		return
	}
	out := string(body)
	if !s.opts.Display.PlainJSON {
		out = htmlEscape(out)
	}
	// The template's line break and the blank line before its comment block.
	c.w.Header().Set("Content-Type", "application/json; charset=utf-8")
	c.w.WriteHeader(http.StatusOK)
	c.w.Write([]byte(out + "\n\n"))
}

// displayRescue is the rescue of uc.rb #display in production: an
// exception log entry, an error message to the user ("Could not view
// <name>"), and a 200 text/html warning.
func (s *Server) displayRescue(c *call, name string) {
	_ = name // the message's header names the file; only counted here
	s.countPortalReports(1, 1)
	c.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	c.w.WriteHeader(http.StatusOK)
	c.w.Write([]byte(`<div class="warning">Error generating view code for viewer '` + htmlEscape(c.get("viewer")) +
		`'. Admins have been notified and will look into the problem. In the meantime, there's not much you can do about this.</div>`))
}

// htmlEscape is ERB::Util.html_escape (Rails 5.0): & > < " ' only, with
// &quot; and &#39; (Go's html.EscapeString writes &#34;).
var htmlEscape = strings.NewReplacer("&", "&amp;", ">", "&gt;", "<", "&lt;", `"`, "&quot;", "'", "&#39;").Replace

// fileInfo is a FileInfo (file_info.rb) as ActiveSupport renders it:
// Array#to_json calls as_json on each element, which for a plain object
// is its instance variables in the order they were set. dp.rb sets name,
// then tries symbolic_type, size, permissions, uid, gid, owner, group,
// atime, ctime, mtime from File.lstat; File::Stat has no permissions,
// owner or group methods, so those three are never set and never shown.
type fileInfo struct {
	Name         string `json:"name"`
	SymbolicType string `json:"symbolic_type"`
	Size         int64  `json:"size"`
	UID          int    `json:"uid"`
	GID          int    `json:"gid"`
	Atime        string `json:"atime"`
	Ctime        string `json:"ctime"`
	Mtime        string `json:"mtime"`
}

// rubyTimeJSON renders a time as Rails renders a Ruby Time in JSON:
// File.lstat's times are local Times, and ActiveSupport's Time#as_json is
// xmlschema(3): ISO 8601 with milliseconds and the UTC offset (+00:00,
// not Z, on a host in UTC, since the Time is not UTC-flagged).
func rubyTimeJSON(t time.Time, zone *time.Location) string {
	if zone == nil {
		zone = time.Local
	}
	return t.In(zone).Format("2006-01-02T15:04:05.000-07:00")
}

// listCollection is list_files for a collection in the portal cache
// (dp.rb #cache_collection_index with its defaults :all, :regular):
// Dir.glob("<name>/**/*") (no dot files, no descent into dot
// directories), File.lstat of each, regular files only, names starting
// with the collection's name, sorted by name (byte order).
func listCollection(root, collName string, zone *time.Location) ([]fileInfo, error) {
	out := []fileInfo{}
	if root == "" {
		return out, nil
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if !st.Mode().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		m := statMeta(st)
		out = append(out, fileInfo{Name: collName + "/" + filepath.ToSlash(rel), SymbolicType: "regular", Size: st.Size(),
			UID: m.uid, GID: m.gid, Atime: rubyTimeJSON(m.atime, zone), Ctime: rubyTimeJSON(m.ctime, zone),
			Mtime: rubyTimeJSON(st.ModTime(), zone)})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// fileMeta is what File.lstat gives beyond os.FileInfo (statmeta_*.go).
type fileMeta struct {
	uid, gid     int
	atime, ctime time.Time
}

// collectionStats sums the regular files of a collection root (set_size!
// in fc.rb uses list_files(:all, :regular) too).
func collectionStats(root string) (size int64, n int) {
	list, _ := listCollection(root, "x", time.UTC)
	for _, e := range list {
		size += e.Size
		n++
	}
	return size, n
}

// EvictFromCache drops a userfile from the portal's cache, as its cache
// cleanup does (on a remote provider the content is then served, and a
// collection listed, only after another sync). For tests.
func (s *Server) EvictFromCache(id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.st.files[id]; f != nil {
		f.cached = false
	}
}

// SetMemberTime sets the mtime (and atime) of a collection member, rel
// being its path inside the collection ("sub/a.txt"). It panics if there
// is no such member (a test bug).
func (s *Server) SetMemberTime(id int, rel string, mtime time.Time) {
	s.mu.Lock()
	f := s.st.files[id]
	var root string
	if f != nil && f.coll {
		root = f.data
	}
	s.mu.Unlock()
	p := collectionMember(root, "c", "c/"+rel)
	if p == "" {
		panic(fmt.Sprintf("cbraintest.SetMemberTime(%d, %q): no such member", id, rel))
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		panic(fmt.Sprintf("cbraintest.SetMemberTime(%d, %q): %v", id, rel, err))
	}
}
