package vrchattest

import "fmt"

// Demo fixture names, exported so that tests and `filesmount demo` can
// refer to them.
const (
	DemoUsername = "demo"
	DemoPassword = "demo-password"
	// DemoDuplicateName is the name two demo Files share.
	DemoDuplicateName = "Screenshot"
)

// SeedDemo fills s with sample data and returns the demo user's id:
//   - user "demo" (password DemoPassword) with totp 2FA (see
//     TwoFactorCodes);
//   - "Profile picture" (3 versions) and "World thumbnail" (2 versions):
//     image/png Files, every version a valid PNG;
//   - two Files named DemoDuplicateName (a name collision);
//   - "Avatar - Demo Avatar - Asset bundle": application/x-avatar, ".vrca",
//     2 versions of small fake UnityFS bytes; analysis ready on the latest
//     version, pending on version 1;
//   - a gallery-tagged and an icon-tagged image, shaped like /file/image
//     uploads (no md5, no signature);
//   - "Unfinished world": version 1 complete, version 2 still "waiting".
func SeedDemo(s *Server) (userID string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("vrchattest.SeedDemo: %v", r)
		}
	}()
	demo := s.AddUser(DemoUsername, DemoPassword, "totp")
	png := func(w, h int, seed int64) VersionSpec { return VersionSpec{Content: PNG(w, h, seed)} }

	s.AddFile(FileSpec{OwnerID: demo, Name: "Profile picture", MimeType: "image/png", Extension: "png",
		Versions: []VersionSpec{png(64, 64, 1), png(96, 96, 2), png(128, 128, 3)}})
	s.AddFile(FileSpec{OwnerID: demo, Name: "World thumbnail", MimeType: "image/png", Extension: "png",
		Versions: []VersionSpec{png(120, 90, 4), png(160, 120, 5)}})
	s.AddFile(FileSpec{OwnerID: demo, Name: DemoDuplicateName, MimeType: "image/png", Extension: "png",
		Versions: []VersionSpec{png(80, 45, 6), png(80, 45, 7)}})
	s.AddFile(FileSpec{OwnerID: demo, Name: DemoDuplicateName, MimeType: "image/png", Extension: "png",
		Versions: []VersionSpec{png(45, 80, 8), png(45, 80, 9), png(45, 80, 10)}})

	avatar := s.AddFile(FileSpec{OwnerID: demo, Name: "Avatar - Demo Avatar - Asset bundle - 2022.3.22f1_4_standalonewindows_Release",
		MimeType: "application/x-avatar", Extension: ".vrca",
		Versions: []VersionSpec{{Content: fakeBundle(11, 6000)}, {Content: fakeBundle(12, 7000)}}})
	s.SetAnalysis(avatar, 1, false)
	s.SetAnalysis(avatar, 2, true)

	image := VersionSpec{Content: PNG(256, 256, 13), NoMD5: true, NoSignature: true}
	s.AddFile(FileSpec{OwnerID: demo, Name: "Gallery - demo - 2026-01-02 10:11:12", MimeType: "image/png", Extension: ".png",
		Tags: []string{"gallery"}, Versions: []VersionSpec{image}})
	image.Content = PNG(64, 64, 14)
	s.AddFile(FileSpec{OwnerID: demo, Name: "Icon - demo - 2026-01-03 09:00:00", MimeType: "image/png", Extension: ".png",
		Tags: []string{"icon"}, Versions: []VersionSpec{image}})

	s.AddFile(FileSpec{OwnerID: demo, Name: "Unfinished world", MimeType: "application/x-world", Extension: ".vrcw",
		Versions: []VersionSpec{{Content: fakeBundle(15, 5000)}, {Content: fakeBundle(16, 5200), Status: "waiting"}}})
	return demo, nil
}

// fakeBundle is a UnityFS-looking header followed by pseudo-random bytes.
func fakeBundle(seed int64, size int) []byte {
	b := make([]byte, size)
	DeterministicContent(seed, int64(size)).ReadAt(b, 0)
	copy(b, "UnityFS\x00\x00\x00\x00\x085.x.x\x002022.3.22f1\x00")
	return b
}
