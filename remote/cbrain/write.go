package cbrain

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"syscall"

	"github.com/filesmount/filesmount/remote"
)

var _ remote.Writer = (*Store)(nil)

// Client returns the client behind s (for the CLI's compress,
// uncompress and sync commands).
func (s *Store) Client() *Client { return s.c }

// Mkdir implements remote.Writer: CBRAIN's only directories are
// FileCollections, and the API can create one only by uploading and
// extracting an archive; there is no empty collection.
func (s *Store) Mkdir(_ context.Context, dir remote.Entry, name string) (remote.Entry, error) {
	if _, err := providerOf(dir); err != nil {
		return remote.Entry{}, err
	}
	return remote.Entry{}, fmt.Errorf("cbrain: cannot create directory %q: CBRAIN has no empty directories; "+
		"a FileCollection can only be created by uploading an archive: %w", name, remote.ErrUnsupported)
}

// Remove implements remote.Writer: the userfile is deleted through a
// background activity, which Remove waits for, then checks it is gone.
func (s *Store) Remove(ctx context.Context, dir, e remote.Entry) error {
	uf, err := s.writableUserfile(ctx, e, "delete")
	if err != nil {
		return err
	}
	if isCollectionType(uf.Type) {
		return fmt.Errorf("cbrain: cannot delete %q as a file: it is a FileCollection (a directory): %w", uf.Name, syscall.EISDIR)
	}
	return s.c.deleteUserfile(ctx, uf)
}

// Rmdir implements remote.Writer. A FileCollection is one userfile, and
// its files cannot be deleted one by one, so a non-empty collection could
// only be removed whole. Rmdir must not destroy content (rmdir(2) refuses
// non-empty directories, and scripts rely on that), so it deletes a
// collection only when the portal reports it empty, and otherwise answers
// ENOTEMPTY with a message saying how to delete it. Providers and
// browse-path directories are refused.
func (s *Store) Rmdir(ctx context.Context, dir, e remote.Entry) error {
	uf, err := s.writableUserfile(ctx, e, "delete")
	if err != nil {
		return err
	}
	if !isCollectionType(uf.Type) {
		return fmt.Errorf("cbrain: cannot rmdir %q: it is a file: %w", uf.Name, syscall.ENOTDIR)
	}
	if uf.NumFiles == nil || *uf.NumFiles != 0 {
		return fmt.Errorf("cbrain: cannot remove collection %q (userfile %d): it is not empty, and the CBRAIN API cannot "+
			"delete the files inside a collection; delete the whole collection in the CBRAIN portal: %w", uf.Name, uf.ID, syscall.ENOTEMPTY)
	}
	return s.c.deleteUserfile(ctx, uf)
}

// writableUserfile fetches the userfile behind e, refusing with a reason
// the entries that are not userfiles.
func (s *Store) writableUserfile(ctx context.Context, e remote.Entry, op string) (*Userfile, error) {
	id, ok := UserfileID(e)
	if !ok {
		kind, _, _ := strings.Cut(e.ID, "/")
		switch kind {
		case "cf":
			return nil, fmt.Errorf("cbrain: cannot %s %q: it is inside a CBRAIN FileCollection, and collections "+
				"cannot be changed through the API: %w", op, e.Name, remote.ErrReadOnly)
		case "dp":
			return nil, fmt.Errorf("cbrain: cannot %s %q: it is a data provider, which filesmount does not change: %w", op, e.Name, remote.ErrReadOnly)
		case "bp":
			return nil, fmt.Errorf("cbrain: cannot %s %q: it is a MultiLevel provider's subdirectory, not a userfile: %w", op, e.Name, remote.ErrUnsupported)
		}
		return nil, fmt.Errorf("cbrain: cannot %s %q: not a userfile: %w", op, e.Name, remote.ErrReadOnly)
	}
	uf, err := s.c.Userfile(ctx, id)
	if err != nil {
		return nil, err
	}
	if uf.Immutable {
		return nil, fmt.Errorf("cbrain: cannot %s %q (userfile %d): it is marked immutable: %w", op, uf.Name, uf.ID, remote.ErrReadOnly)
	}
	return uf, nil
}

// deleteUserfile deletes uf, waits for the portal's background activity,
// and confirms that the userfile is gone.
func (c *Client) deleteUserfile(ctx context.Context, uf *Userfile) error {
	res, err := c.Delete(ctx, uf.ID)
	if err != nil {
		return fmt.Errorf("cbrain: delete %q (userfile %d): %w", uf.Name, uf.ID, err)
	}
	if !res[0].OK {
		return itemError("delete", uf, res[0], remote.ErrPermission)
	}
	if still, err := c.userfileIfExists(ctx, uf.ID); err != nil {
		return err
	} else if still != nil {
		return fmt.Errorf("cbrain: delete %q (userfile %d): the portal reported success but the file still exists: %w",
			uf.Name, uf.ID, remote.ErrConflict)
	}
	return nil
}

// Rename implements remote.Writer. Within a provider it renames (PUT
// /userfiles/:id, confirmed by a GET since older portals ignore failed
// renames); to another provider it moves (the id is kept), then renames.
//
// CBRAIN refuses a name that is taken, so when replaced is given, it is
// first renamed aside to a temporary name, e takes its place, and only
// then is it deleted. If e cannot take the place, replaced gets its name
// back. If only the final deletion fails, the rename has still happened
// and Rename succeeds; the replaced content then stays, under its
// temporary "<name>.filesmount-old-<hash>" name, visible in the listing.
func (s *Store) Rename(ctx context.Context, dir, e, newDir remote.Entry, newName string, replaced *remote.Entry) (remote.Entry, error) {
	uf, err := s.writableUserfile(ctx, e, "rename")
	if err != nil {
		return remote.Entry{}, err
	}
	dest := uf.DataProviderID
	if newDir.ID != dir.ID && (strings.HasPrefix(dir.ID, "bp/") || uf.BrowsePath != nil && *uf.BrowsePath != "") {
		return remote.Entry{}, fmt.Errorf("cbrain: cannot move %q out of its MultiLevel provider subdirectory: "+
			"the CBRAIN API cannot change a file's browse path: %w", uf.Name, remote.ErrUnsupported)
	}
	if newDir.ID != dir.ID {
		if dest, err = providerOf(newDir); err != nil {
			return remote.Entry{}, err
		}
	} else if _, err := providerOf(dir); err != nil && !strings.HasPrefix(dir.ID, "bp/") {
		return remote.Entry{}, err // renaming in place inside a browse-path directory is fine
	}
	if err := checkLegal(newName); err != nil {
		return remote.Entry{}, err
	}
	me, err := s.c.Me(ctx)
	if err != nil {
		return remote.Entry{}, err
	}
	var rep *Userfile
	if replaced != nil {
		if rep, err = s.replacedUserfile(ctx, *replaced, uf, dest, newName); err != nil {
			return remote.Entry{}, err
		}
	}
	src := uf.DataProviderID
	if dest != src {
		// The final rename on dest would fail (after the move) if the
		// name is taken there anywhere but by the file being replaced.
		except := []int64{uf.ID}
		if rep != nil {
			except = append(except, rep.ID)
		}
		if err := s.c.refuseTaken(ctx, me, dest, newName, except, uf.Name); err != nil {
			return remote.Entry{}, err
		}
	}
	move := func() error {
		if dest != src {
			// change_provider fails an item whose owner has a file of
			// the same name on the destination, in any subdirectory and
			// whatever the case (data_provider.rb,
			// provider_move_to_otherprovider: Userfile.where(name,
			// data_provider_id, user_id), without crush_destination):
			// cross under a name free on both providers.
			clash, err := s.c.ownedAnywhere(ctx, me, dest, uf.Name, uf.ID)
			if err != nil {
				return err
			}
			original := uf.Name
			if clash != nil {
				if err := s.c.rename(ctx, me, uf, transitName(newName, uf.ID)); err != nil {
					return fmt.Errorf("cbrain: cannot move %q: %q is taken on data provider %d and renaming it for the move failed: %w", original, original, dest, err)
				}
			}
			if err := s.c.move(ctx, uf, dest); err != nil {
				if uf.Name != original {
					// Still on the source provider: give it its name back.
					if rerr := s.c.rename(ctx, me, uf, original); rerr != nil {
						return fmt.Errorf("%w (the file stays on provider %d as %q: %v)", err, src, uf.Name, rerr)
					}
				}
				return err
			}
		}
		if err := s.c.rename(ctx, me, uf, newName); err != nil {
			if dest == src {
				return err
			}
			return fmt.Errorf("%w (the file was moved to data provider %d under its old name %q)", err, dest, uf.Name)
		}
		return nil
	}
	if rep == nil {
		err = move()
	} else {
		err = s.c.withAside(ctx, me, rep, move)
	}
	if err != nil {
		return remote.Entry{}, err
	}
	return userfileEntry(uf), nil
}

// replacedUserfile returns the userfile that a rename replaces, or nil if
// it is already gone (or is no longer under newName on dest).
func (s *Store) replacedUserfile(ctx context.Context, replaced remote.Entry, uf *Userfile, dest int64, newName string) (*Userfile, error) {
	id, ok := UserfileID(replaced)
	if !ok {
		return nil, fmt.Errorf("cbrain: cannot replace %q: not a userfile: %w", replaced.Name, remote.ErrInvalid)
	}
	rep, err := s.c.userfileIfExists(ctx, id)
	if err != nil || rep == nil || rep.ID == uf.ID || rep.Name != newName || rep.DataProviderID != dest {
		return nil, err
	}
	switch {
	case isCollectionType(rep.Type) && !isCollectionType(uf.Type):
		return nil, fmt.Errorf("cbrain: cannot replace collection %q with a file: %w", newName, syscall.EISDIR)
	case !isCollectionType(rep.Type) && isCollectionType(uf.Type):
		return nil, fmt.Errorf("cbrain: cannot replace file %q with a collection: %w", newName, syscall.ENOTDIR)
	case isCollectionType(rep.Type) && (rep.NumFiles == nil || *rep.NumFiles != 0):
		return nil, fmt.Errorf("cbrain: cannot replace collection %q (userfile %d): it is not empty: %w", newName, rep.ID, syscall.ENOTEMPTY)
	case rep.Immutable:
		return nil, fmt.Errorf("cbrain: cannot replace %q (userfile %d): it is marked immutable: %w", newName, rep.ID, remote.ErrReadOnly)
	}
	return rep, nil
}

// withAside renames rep to a temporary name, runs f, and then deletes rep;
// if f fails, rep gets its name back.
func (c *Client) withAside(ctx context.Context, me Identity, rep *Userfile, f func() error) error {
	name := rep.Name
	if err := c.rename(ctx, me, rep, asideName(name, rep.ID)); err != nil {
		return fmt.Errorf("cbrain: cannot move %q out of the way: %w", name, err)
	}
	if err := f(); err != nil {
		// Restore even if the caller gave up: the name must not stay empty.
		if rerr := c.rename(context.WithoutCancel(ctx), me, rep, name); rerr != nil {
			return fmt.Errorf("%w; restoring %q also failed, it is kept as %q (userfile %d): %v", err, name, rep.Name, rep.ID, rerr)
		}
		return err
	}
	// Best effort: the rename has happened; a failure here leaves the old
	// content under its temporary name (see Rename).
	_ = c.deleteUserfile(ctx, rep)
	return nil
}

// rename renames uf to newName (PUT /userfiles/:id with its current
// tag_ids, which the portal otherwise clears) and confirms it with a GET.
// On success uf is updated.
func (c *Client) rename(ctx context.Context, me Identity, uf *Userfile, newName string) error {
	if uf.Name == newName {
		return nil
	}
	if strings.EqualFold(uf.Name, newName) {
		// The portal compares names case-insensitively, the file itself
		// included, so a case-only change goes through another name.
		if err := c.rename(ctx, me, uf, tempName(newName, ".filesmount-case-", uf.Name)); err != nil {
			return err
		}
	}
	tags := uf.TagIDs
	if tags == nil {
		tags = []int64{}
	}
	body := map[string]any{"userfile": map[string]any{"name": newName}, "tag_ids": tags}
	op := fmt.Sprintf("rename %q (userfile %d) to %q", uf.Name, uf.ID, newName)
	if err := c.sendJSON(ctx, op, http.MethodPut, fmt.Sprintf("/userfiles/%d", uf.ID), true, body, nil); err != nil {
		var se *remote.StatusError
		if errors.As(err, &se) {
			refineRenameError(se)
		}
		return err
	}
	now, err := c.Userfile(ctx, uf.ID)
	if err != nil {
		return err
	}
	if now.Name != newName {
		// Only two renames answer OK and do nothing: a taken name on a
		// 7.0.0 portal (release.go; later portals answer 422), and a file
		// that is not the caller's (UserfilesController#update renames
		// only with owner access).
		kind, why := remote.ErrExist, "a file with that name already exists there; CBRAIN 7.0.0 portals answer so"
		if now.UserID != me.UserID {
			kind, why = remote.ErrPermission, "only the file's owner may rename it"
		}
		return fmt.Errorf("cbrain: %s: the portal answered OK but did not rename it (%s): %w", op, why, kind)
	}
	*uf = *now
	return nil
}

func refineRenameError(se *remote.StatusError) {
	l := strings.ToLower(se.Msg)
	switch {
	case se.Code == http.StatusNotFound:
		se.Kind, se.Msg = remote.ErrPermission, "no write access to the file (or it no longer exists)"
	case strings.Contains(l, "illegal characters"):
		se.Kind = remote.ErrInvalid
	case strings.Contains(l, "already exists"):
		se.Kind = remote.ErrExist
	case strings.Contains(l, "read_only"), strings.Contains(l, "read-only"), strings.Contains(l, "immutable"):
		se.Kind = remote.ErrReadOnly
	case strings.Contains(l, "offline"):
		se.Kind = remote.ErrUnavailable
	}
}

// move moves uf to provider dest, waits, and confirms; uf is updated.
func (c *Client) move(ctx context.Context, uf *Userfile, dest int64) error {
	res, err := c.Move(ctx, dest, uf.ID)
	if err != nil {
		var se *remote.StatusError
		if errors.As(err, &se) && strings.Contains(se.Msg, "not accessible") {
			se.Kind = remote.ErrReadOnly // not accessible, offline or read-only
		}
		return fmt.Errorf("cbrain: move %q (userfile %d) to data provider %d: %w", uf.Name, uf.ID, dest, err)
	}
	if !res[0].OK {
		r := res[0]
		if strings.HasPrefix(r.Message, "Failed to move") {
			r.Message += " (a file with that name may exist on the destination, or the source provider is read-only)"
		}
		return itemError(fmt.Sprintf("move to data provider %d", dest), uf, r, remote.ErrConflict)
	}
	now, err := c.Userfile(ctx, uf.ID)
	if err != nil {
		return err
	}
	if now.DataProviderID != dest {
		return fmt.Errorf("cbrain: move %q (userfile %d) to data provider %d: the portal reported success but it is still on provider %d: %w",
			uf.Name, uf.ID, dest, now.DataProviderID, remote.ErrConflict)
	}
	*uf = *now
	return nil
}

// ownedAnywhere returns a userfile of me on provider dpID whose name is
// name under the portal's comparison (case-insensitive), in any browse
// path, other than the one with id except; or nil. These are the files
// that make the portal refuse name there for a move or a rename
// (data_provider.rb, provider_move_to_otherprovider and provider_rename
// compare names with SQL "=" under a case-insensitive collation and do
// not look at browse_path).
func (c *Client) ownedAnywhere(ctx context.Context, me Identity, dpID int64, name string, except ...int64) (*Userfile, error) {
	return c.newestOwned(ctx, me, dpID, name, func(f *Userfile) bool {
		return strings.EqualFold(f.Name, name) && !slices.Contains(except, f.ID)
	})
}

// refuseTaken fails with ErrExist when moving oldName to provider dpID as
// name cannot end under that name: the portal would move the file, then
// refuse the rename, and leave it there under another name.
func (c *Client) refuseTaken(ctx context.Context, me Identity, dpID int64, name string, except []int64, oldName string) error {
	taken, err := c.ownedAnywhere(ctx, me, dpID, name, except...)
	if err != nil || taken == nil {
		return err
	}
	where := ""
	if taken.BrowsePath != nil && strings.Trim(*taken.BrowsePath, "/") != "" {
		where = fmt.Sprintf(" in its subdirectory %q", strings.Trim(*taken.BrowsePath, "/"))
	}
	return fmt.Errorf("cbrain: cannot move %q to data provider %d as %q: your file %q (userfile %d) is there%s, and the portal "+
		"allows one name per owner on a provider, whatever the subdirectory or the case: %w", oldName, dpID, name, taken.Name, taken.ID, where, remote.ErrExist)
}
