package cbraintest

import "fmt"

// Demo fixture names, exported so that tests and `filesmount demo` can
// refer to them.
const (
	DemoLogin    = "demo"
	DemoPassword = "demo-password"
)

// SeedDemo fills s with sample data and returns the demo user and a token:
//   - users "demo" (the returned one), "alice" and "admin" (admin);
//   - WorkGroup "DemoProject" with demo and alice;
//   - "MainStore": local, storage NOT shared between users, so two users
//     may own files with the same name there;
//   - "ArchiveSSH": remote, content served only after sync_multiple;
//   - on MainStore: README.txt (TextFile), metadata.json (JsonFile),
//     sub-01_T1w.nii (2 MiB NIfTI-1), a FileCollection "sub-01_anat" with
//     a subdirectory, two "shared_notes.txt" (demo's and alice's, both in
//     DemoProject: a name collision), and "pending_upload.dat" whose size
//     is null;
//   - on ArchiveSSH: "archived_results.csv" and a collection "old_study".
//
// CBRAIN names are restricted (§8), so there is no name needing escapes.
func SeedDemo(s *Server) (userID int, token string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cbraintest.SeedDemo: %v", r)
		}
	}()
	admin := s.AddUser("admin", "admin-password", true)
	demo := s.AddUser(DemoLogin, DemoPassword, false)
	alice := s.AddUser("alice", "alice-password", false)
	proj := s.AddGroup("DemoProject", "WorkGroup", demo, alice)
	main := s.AddProvider("MainStore", admin, ProviderOptions{Type: "LocalDataProvider", Browsable: false, Description: "Local demo storage"})
	arch := s.AddProvider("ArchiveSSH", admin, ProviderOptions{Remote: true, SharedStorage: true, Description: "Remote archive (needs sync)"})

	s.AddFile(FileSpec{Name: "README.txt", ProviderID: main, OwnerID: demo, Type: "TextFile",
		Content:     []byte("Welcome to the filesmount CBRAIN demo.\nEvery CBRAIN userfile appears as a file; collections are directories.\n"),
		Description: "Read me first"})
	s.AddFile(FileSpec{Name: "metadata.json", ProviderID: main, OwnerID: demo, Type: "JsonFile",
		Content: []byte(`{"subject":"sub-01","session":"ses-01","modality":"T1w","scanner":{"vendor":"Emulated","field_strength_T":3}}` + "\n")})
	s.AddFile(FileSpec{Name: "sub-01_T1w.nii", ProviderID: main, OwnerID: demo, Type: "NiftiFile",
		Content: NIfTI1(128, 128, 64), Description: "Synthetic T1-weighted volume"})
	s.AddFile(FileSpec{Name: "sub-01_anat", ProviderID: main, OwnerID: demo, Type: "FileCollection", GroupID: proj,
		Members: map[string][]byte{
			"dataset_description.json": []byte(`{"Name":"demo","BIDSVersion":"1.8.0"}` + "\n"),
			"anat/sub-01_T1w.json":     []byte(`{"RepetitionTime":2.3,"EchoTime":0.00298}` + "\n"),
			"anat/notes/scan_log.txt":  []byte("Scan went fine.\n"),
			"participants.tsv":         []byte("participant_id\tage\nsub-01\t34\n"),
		}})
	s.AddFile(FileSpec{Name: "shared_notes.txt", ProviderID: main, OwnerID: demo, GroupID: proj, Type: "TextFile",
		Content: []byte("demo's notes\n")})
	s.AddFile(FileSpec{Name: "shared_notes.txt", ProviderID: main, OwnerID: alice, GroupID: proj, Type: "TextFile",
		Content: []byte("alice's notes, same name, different owner\n")})
	s.AddFile(FileSpec{Name: "pending_upload.dat", ProviderID: main, OwnerID: demo, SizeNull: true,
		Content: []byte("size not computed yet\n")})
	s.AddFile(FileSpec{Name: "archived_results.csv", ProviderID: arch, OwnerID: demo, Type: "CSVFile",
		Content: []byte("subject,volume_mm3\nsub-01,1234567\nsub-02,1198765\n")})
	s.AddFile(FileSpec{Name: "old_study", ProviderID: arch, OwnerID: demo, Type: "FileCollection",
		Members: map[string][]byte{"README": []byte("old study\n"), "data/values.txt": []byte("1 2 3\n")}})
	return demo, s.NewToken(demo), nil
}
