package cbraintest

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

type user struct {
	id            int
	login         string
	password      string
	fullName      string
	email         string
	admin         bool
	ownGroup      int // the user's UserGroup
	lastConnected *time.Time
}

type group struct {
	id          int
	name        string
	typ         string // UserGroup, WorkGroup, SystemGroup, ...
	description *string
	invisible   bool
	members     map[int]bool
}

type provider struct {
	id          int
	name        string
	typ         string
	ownerID     int
	groupID     int
	online      bool
	readOnly    bool
	remote      bool // content served only after a sync (the portal cache is not the provider)
	browsable   bool
	shared      bool // content_storage_shared_between_users
	description *string
}

type tag struct {
	id     int
	name   string
	userID int
}

type userfile struct {
	id            int
	name          string
	lname         string // lower-cased name: sort key and case-insensitive comparisons
	browsePath    *string
	size          *int64
	numFiles      *int
	userID        int
	parentID      *int
	typ           string
	groupID       int
	dpID          int
	groupWritable bool
	hidden        bool
	immutable     bool
	archived      bool
	description   *string
	tagIDs        []int
	createdAt     time.Time
	updatedAt     time.Time

	coll bool // FileCollection (or subclass)
	// Content: data is a file (SingleFile) or a directory holding the
	// collection's members (FileCollection) under DataDir; "" with src nil
	// means empty. src, when set, generates a SingleFile's bytes on demand.
	data    string
	src     io.ReaderAt
	srcSize int64
	stored  bool // content exists (false while an upload is processed)
	cached  bool // portal cache in sync (only matters on remote providers)
}

// Known STI classes (§2). Subclasses of FileCollection are collections.
var (
	singleTypes = map[string]bool{"SingleFile": true, "TextFile": true, "JsonFile": true, "CSVFile": true,
		"DatFile": true, "LogFile": true, "ImageFile": true, "NiftiFile": true, "MincFile": true, "CompressedFile": true}
	collectionTypes = map[string]bool{"FileCollection": true, "BidsDataset": true, "DicomCollection": true, "CivetOutput": true}
)

func int64p(v int64) *int64 { return &v }
func intp(v int) *int       { return &v }
func strp(v string) *string { return &v }

// AddUser creates a user and its personal UserGroup (named after the
// login). Every user is also a member of the hidden "everyone" group.
func (s *Server) AddUser(login, password string, admin bool) (userID int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.newID("users")
	u := &user{id: id, login: login, password: password, admin: admin,
		fullName: login, email: login + "@example.org"}
	s.st.users[id] = u
	s.st.byLogin[login] = u
	u.ownGroup = s.addGroupLocked(login, "UserGroup", []int{id})
	s.st.groups[s.st.everyoneID].members[id] = true
	return id
}

// AddGroup creates a group (project) with the given members. typ is e.g.
// "WorkGroup"; "" means WorkGroup.
func (s *Server) AddGroup(name, typ string, members ...int) (groupID int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if typ == "" {
		typ = "WorkGroup"
	}
	return s.addGroupLocked(name, typ, members)
}

func (s *Server) addGroupLocked(name, typ string, members []int) int {
	id := s.newID("groups")
	g := &group{id: id, name: name, typ: typ, members: map[int]bool{}}
	for _, m := range members {
		g.members[m] = true
	}
	s.st.groups[id] = g
	return id
}

// AddGroupMember adds a user to an existing group.
func (s *Server) AddGroupMember(groupID, userID int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.st.groups[groupID]; g != nil {
		g.members[userID] = true
	}
}

// ProviderOptions describes a data provider.
type ProviderOptions struct {
	// Type is the class name; default "FlatDirLocalDataProvider", or
	// "SshDataProvider" when Remote.
	Type string
	// ReadOnly, Offline: the provider's flags (read_only, !online).
	ReadOnly, Offline bool
	// Remote: content is only served after a sync: GET /content answers an
	// empty 404 until a POST /userfiles/sync_multiple background activity
	// has completed for the file (or the file was uploaded through the
	// portal, which leaves the cache in sync).
	Remote bool
	// Browsable: is_browsable.
	Browsable bool
	// SharedStorage: content_storage_shared_between_users; names must then
	// be unique across all users on the provider (§8).
	SharedStorage bool
	// GroupID is the provider's group; 0 = the "everyone" group, i.e.
	// accessible to every user.
	GroupID int
	// Description, if not empty.
	Description string
}

// AddProvider creates a data provider.
func (s *Server) AddProvider(name string, ownerID int, opt ProviderOptions) (providerID int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	typ := opt.Type
	if typ == "" {
		typ = "FlatDirLocalDataProvider"
		if opt.Remote {
			typ = "SshDataProvider"
		}
	}
	gid := opt.GroupID
	if gid == 0 {
		gid = s.st.everyoneID
	}
	id := s.newID("data_providers")
	p := &provider{id: id, name: name, typ: typ, ownerID: ownerID, groupID: gid, online: !opt.Offline,
		readOnly: opt.ReadOnly, remote: opt.Remote, browsable: opt.Browsable, shared: opt.SharedStorage}
	if opt.Description != "" {
		p.description = strp(opt.Description)
	}
	s.st.providers[id] = p
	return id
}

// SetProviderOnline flips a provider's online flag (failure knob).
func (s *Server) SetProviderOnline(providerID int, online bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.st.providers[providerID]; p != nil {
		p.online = online
	}
}

// AddTag creates a tag owned by userID and returns its id.
func (s *Server) AddTag(name string, userID int) (tagID int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.newID("tags")
	s.st.tags[id] = &tag{id: id, name: name, userID: userID}
	return id
}

// FileSpec describes a userfile to create with AddFile.
type FileSpec struct {
	Name                         string
	ProviderID, OwnerID, GroupID int    // GroupID 0 = the owner's UserGroup
	Type                         string // default SingleFile; "FileCollection" for collections
	// Content is small content, written to DataDir.
	Content []byte
	// Source/Size: large or generated content read on demand; nothing is
	// copied. The ReaderAt must stay valid and unchanged.
	Source io.ReaderAt
	Size   int64
	// Members: for a FileCollection, relative path inside the collection
	// ("sub/a.txt") -> content.
	Members map[string][]byte
	// SizeNull reports size (and num_files for collections) as null, as
	// for a registered file whose size was not computed yet. Content is
	// still served.
	SizeNull    bool
	Hidden      bool
	Description string
	TagIDs      []int
	// GroupWritable, Immutable, BrowsePath, ParentID: the columns of the same name.
	GroupWritable bool
	Immutable     bool
	BrowsePath    string
	ParentID      int
}

// AddFile creates a userfile with its content. It does not validate names
// or uniqueness (tests may need illegal states); it panics on I/O errors
// or an unknown provider/owner, which are test bugs.
func (s *Server) AddFile(f FileSpec) (userfileID int) {
	s.mu.Lock()
	owner := s.st.users[f.OwnerID]
	if owner == nil || s.st.providers[f.ProviderID] == nil {
		s.mu.Unlock()
		panic(fmt.Sprintf("cbraintest.AddFile(%q): unknown owner %d or provider %d", f.Name, f.OwnerID, f.ProviderID))
	}
	id := s.newID("userfiles")
	gen := s.nextGenLocked()
	s.mu.Unlock()

	typ := f.Type
	if typ == "" {
		typ = "SingleFile"
	}
	coll := collectionTypes[typ] || (!singleTypes[typ] && f.Members != nil)
	now := time.Now()
	uf := &userfile{id: id, name: f.Name, lname: strings.ToLower(f.Name), userID: f.OwnerID, typ: typ,
		groupID: f.GroupID, dpID: f.ProviderID, hidden: f.Hidden, groupWritable: f.GroupWritable,
		immutable: f.Immutable, coll: coll, createdAt: now, updatedAt: now, stored: true}
	if uf.groupID == 0 {
		uf.groupID = owner.ownGroup
	}
	if f.Description != "" {
		uf.description = strp(f.Description)
	}
	if f.BrowsePath != "" {
		uf.browsePath = strp(f.BrowsePath)
	}
	if f.ParentID != 0 {
		uf.parentID = intp(f.ParentID)
	}
	uf.tagIDs = append([]int(nil), f.TagIDs...)
	var size int64
	nfiles := 1
	var err error
	switch {
	case coll:
		uf.data, err = s.writeCollection(id, gen, f.Members)
		size, nfiles = 0, 0
		for _, b := range f.Members {
			size += int64(len(b))
			nfiles++
		}
	case f.Source != nil:
		uf.src, uf.srcSize, size = f.Source, f.Size, f.Size
	case len(f.Content) > 0:
		uf.data, err = s.writeContent(id, gen, f.Content)
		size = int64(len(f.Content))
	}
	if err != nil {
		panic(fmt.Sprintf("cbraintest.AddFile(%q): %v", f.Name, err))
	}
	if !f.SizeNull {
		uf.size = int64p(size)
		uf.numFiles = intp(nfiles)
	} else if !coll {
		uf.numFiles = intp(1) // SingleFile: num_files is set before create (§8)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range f.TagIDs {
		if s.st.tags[t] == nil { // unknown tag ids get a placeholder tag owned by the file owner
			s.st.tags[t] = &tag{id: t, name: fmt.Sprintf("tag%d", t), userID: f.OwnerID}
			if t > s.st.nextID["tags"] {
				s.st.nextID["tags"] = t
			}
		}
	}
	s.st.files[id] = uf
	s.st.sortedDirty = true
	return id
}

// SetFileContent replaces a SingleFile's content (size changes). The old
// file is replaced, not rewritten, so in-flight downloads finish with the
// old bytes.
func (s *Server) SetFileContent(id int, content []byte) {
	s.mu.Lock()
	gen := s.nextGenLocked()
	s.mu.Unlock()
	path, err := s.writeContent(id, gen, content)
	if err != nil {
		panic(fmt.Sprintf("cbraintest.SetFileContent(%d): %v", id, err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	uf := s.st.files[id]
	if uf == nil {
		panic(fmt.Sprintf("cbraintest.SetFileContent(%d): no such userfile", id))
	}
	old := uf.data
	uf.data, uf.src, uf.srcSize = path, nil, 0
	uf.size = int64p(int64(len(content)))
	uf.stored = true
	uf.updatedAt = time.Now()
	removeLater(old)
}

// FileSize returns a userfile's size as the API reports it (nil = null)
// and whether it exists. For tests.
func (s *Server) FileSize(id int) (*int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	uf := s.st.files[id]
	if uf == nil {
		return nil, false
	}
	if uf.size == nil {
		return nil, true
	}
	return int64p(*uf.size), true
}

// ---- access rules (§2 visibility, §5 write access) ----
// All take mu held.

func (s *Server) isMember(uid, gid int) bool {
	g := s.st.groups[gid]
	return g != nil && g.members[uid]
}

func (s *Server) isAdmin(uid int) bool {
	u := s.st.users[uid]
	return u != nil && u.admin
}

func (s *Server) providerAccessible(uid int, p *provider) bool {
	return p != nil && (s.isAdmin(uid) || p.ownerID == uid || s.isMember(uid, p.groupID))
}

func (s *Server) canRead(uid int, f *userfile) bool {
	if s.isAdmin(uid) || f.userID == uid {
		return true
	}
	return s.isMember(uid, f.groupID) && s.providerAccessible(uid, s.st.providers[f.dpID])
}

func (s *Server) canWrite(uid int, f *userfile) bool {
	if s.isAdmin(uid) || f.userID == uid {
		return true
	}
	return f.groupWritable && s.isMember(uid, f.groupID) && s.providerAccessible(uid, s.st.providers[f.dpID])
}

func (s *Server) hasOwnerAccess(uid int, f *userfile) bool {
	return s.isAdmin(uid) || f.userID == uid
}

// assignableGroup reports whether uid may put a file in group gid: a
// group it belongs to, other than the "everyone" system group.
func (s *Server) assignableGroup(uid, gid int) bool {
	if s.st.groups[gid] == nil || gid == s.st.everyoneID {
		return false
	}
	return s.isAdmin(uid) || s.isMember(uid, gid)
}

// sortedFiles returns all userfiles ordered like ORDER BY name under a
// case-insensitive collation (id as a stable tie-breaker).
func (s *Server) sortedFiles() []*userfile {
	if s.st.sortedDirty || len(s.st.sorted) != len(s.st.files) {
		all := make([]*userfile, 0, len(s.st.files))
		for _, f := range s.st.files {
			all = append(all, f)
		}
		sort.Slice(all, func(i, j int) bool {
			if all[i].lname != all[j].lname {
				return all[i].lname < all[j].lname
			}
			return all[i].id < all[j].id
		})
		s.st.sorted = all
		s.st.sortedDirty = false
	}
	return s.st.sorted
}

// setName renames a record (mu held).
func (s *Server) setName(f *userfile, name string) {
	f.name, f.lname = name, strings.ToLower(name)
	s.st.sortedDirty = true
}

func (s *Server) deleteFileLocked(f *userfile) {
	delete(s.st.files, f.id)
	s.st.sortedDirty = true
	removeLater(f.data)
}
