package fs

// Aliases are names that stand for an object also listed under another
// name (VRChat's latest<ext> and the version it follows). A change made
// through the mount — a new version uploaded, the newest removed — points
// such a name at another object at once. Their entries are given to the
// kernel with the shortest timeout go-fuse allows (uncachedEntry, one
// jiffy), and forgetAliases closes that last jiffy.

// aliasNames returns the names in l whose object has other names too.
func aliasNames(l *listing) []string {
	if l == nil || len(l.links) == 0 {
		return nil
	}
	var names []string
	for _, n := range l.entries {
		if l.nlink(n.entry.ID) > 1 {
			names = append(names, n.name)
		}
	}
	return names
}

// forgetAliases makes the kernel look up d's alias names again at their
// next use. Call it after a change through the mount, before the
// listing is invalidated. The notifications go from a goroutine of their
// own, never from the operation: the kernel holds d's lock while that
// operation runs, and a notification waits for that lock. The nodes the
// aliases led to are suspect: a path that reaches one gets ESTALE (see
// staleName) and the kernel looks it up again, which clears the suspicion
// (childInode) if the name still leads there. Only a lookup clears it,
// not the notification's end: a path walk that passed the old entry just
// before the notification still reaches the node afterwards (seen under
// load: an open of latest.txt served the version before the one just
// written, TestVRChatWriteOntoVersionKeepsIt).
func (d *dirNode) forgetAliases() {
	d.mu.Lock()
	names := d.aliases
	d.mu.Unlock()
	if len(names) == 0 {
		return
	}
	for _, name := range names {
		if ch := d.GetChild(name); ch != nil {
			if f, ok := ch.Operations().(*fileNode); ok {
				f.setSuspect(true)
			}
		}
	}
	go func() {
		for _, name := range names {
			d.NotifyEntry(name) // an error means the kernel holds no such entry
		}
	}()
}

func (n *fileNode) setSuspect(on bool) {
	n.mu.Lock()
	n.suspect = on
	n.mu.Unlock()
}
