package vrchattest

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"time"
)

// Avatar analysis (§2.6, PR #433): GET /analysis/{id}/{v}[/security|/standard].

type analysisKey struct {
	fileID  string
	version int
}

// SetAnalysis makes the analysis of a version ready (200 FileAnalysis) or
// pending (202 {"error":{"message":"Analysis not yet available",...}}).
// Versions never set are pending.
func (s *Server) SetAnalysis(fileID string, version int, ready bool) {
	s.mu.Lock()
	s.st.analysis[analysisKey{fileID, version}] = ready
	s.mu.Unlock()
}

type avatarStats struct {
	AnimatorCount               int       `json:"animatorCount"`
	AudioSourceCount            int       `json:"audioSourceCount"`
	BlendShapeCount             int       `json:"blendShapeCount"`
	BoneCount                   int       `json:"boneCount"`
	Bounds                      []float64 `json:"bounds"`
	CameraCount                 int       `json:"cameraCount"`
	ClothCount                  int       `json:"clothCount"`
	ConstraintCount             int       `json:"constraintCount"`
	ConstraintDepth             int       `json:"constraintDepth"`
	ContactCount                int       `json:"contactCount"`
	CustomExpressions           bool      `json:"customExpressions"`
	CustomizeAnimationLayers    bool      `json:"customizeAnimationLayers"`
	EnableEyeLook               bool      `json:"enableEyeLook"`
	LightCount                  int       `json:"lightCount"`
	LineRendererCount           int       `json:"lineRendererCount"`
	LipSync                     int       `json:"lipSync"`
	MaterialCount               int       `json:"materialCount"`
	MaterialSlotsUsed           int       `json:"materialSlotsUsed"`
	MeshCount                   int       `json:"meshCount"`
	MeshIndices                 int       `json:"meshIndices"`
	MeshParticleMaxPolygons     int       `json:"meshParticleMaxPolygons"`
	MeshPolygons                int       `json:"meshPolygons"`
	MeshVertices                int       `json:"meshVertices"`
	ParticleCollisionEnabled    bool      `json:"particleCollisionEnabled"`
	ParticleSystemCount         int       `json:"particleSystemCount"`
	ParticleTrailsEnabled       bool      `json:"particleTrailsEnabled"`
	PhysBoneColliderCount       int       `json:"physBoneColliderCount"`
	PhysBoneCollisionCheckCount int       `json:"physBoneCollisionCheckCount"`
	PhysBoneComponentCount      int       `json:"physBoneComponentCount"`
	PhysBoneTransformCount      int       `json:"physBoneTransformCount"`
	PhysicsColliders            int       `json:"physicsColliders"`
	PhysicsRigidbodies          int       `json:"physicsRigidbodies"`
	RaycastCount                int       `json:"raycastCount"` // live-only field (§2.6)
	SkinnedMeshCount            int       `json:"skinnedMeshCount"`
	SkinnedMeshIndices          int       `json:"skinnedMeshIndices"`
	SkinnedMeshPolygons         int       `json:"skinnedMeshPolygons"`
	SkinnedMeshVertices         int       `json:"skinnedMeshVertices"`
	TotalClothVertices          int       `json:"totalClothVertices"`
	TotalIndices                int       `json:"totalIndices"`
	TotalMaxParticles           int       `json:"totalMaxParticles"`
	TotalPolygons               int       `json:"totalPolygons"`
	TotalTextureUsage           int       `json:"totalTextureUsage"`
	TotalVertices               int       `json:"totalVertices"`
	TrailRendererCount          int       `json:"trailRendererCount"`
	WriteDefaultsUsed           bool      `json:"writeDefaultsUsed"`
}

type fileAnalysis struct {
	AvatarStats       avatarStats `json:"avatarStats"`
	CreatedAt         string      `json:"created_at"`
	EncryptionKey     string      `json:"encryptionKey"`
	FileSize          int64       `json:"fileSize"`
	PerformanceRating string      `json:"performanceRating"`
	Success           bool        `json:"success"`
	UncompressedSize  int64       `json:"uncompressedSize"`
}

func (s *Server) hAnalysis(c *call) {
	s.mu.Lock()
	f, st, msg := s.findFileLocked(c.id)
	if f == nil {
		s.mu.Unlock()
		c.error(st, msg)
		return
	}
	if c.v == 0 || c.v >= len(f.versions) || f.versions[c.v].file == nil {
		s.mu.Unlock()
		c.error(http.StatusNotFound, msgVersionTypeNotFound) // [INF]
		return
	}
	v := f.versions[c.v]
	ready := s.st.analysis[analysisKey{f.id, c.v}]
	size := v.file.size
	s.mu.Unlock()
	if !ready {
		c.error(http.StatusAccepted, msgAnalysisPending)
		return
	}
	key := sha256.Sum256([]byte(f.id + "/" + c.typ))
	rating := map[string]string{"": "Good", "security": "Good", "standard": "Medium"}[c.typ]
	c.json(http.StatusOK, fileAnalysis{
		AvatarStats: avatarStats{
			AnimatorCount: 3, AudioSourceCount: 1, BlendShapeCount: 52, BoneCount: 143, Bounds: []float64{0.9, 1.7, 0.5},
			ConstraintCount: 4, ConstraintDepth: 2, ContactCount: 6, CustomExpressions: true, CustomizeAnimationLayers: true,
			EnableEyeLook: true, LipSync: 3, MaterialCount: 8, MaterialSlotsUsed: 8, MeshCount: 1, MeshIndices: 3600,
			MeshPolygons: 1200, MeshVertices: 900, ParticleSystemCount: 2, PhysBoneColliderCount: 4,
			PhysBoneCollisionCheckCount: 18, PhysBoneComponentCount: 9, PhysBoneTransformCount: 48, RaycastCount: 0,
			SkinnedMeshCount: 2, SkinnedMeshIndices: 96000, SkinnedMeshPolygons: 32000, SkinnedMeshVertices: 21000,
			TotalIndices: 99600, TotalMaxParticles: 500, TotalPolygons: 33200, TotalTextureUsage: 41943040,
			TotalVertices: 21900, WriteDefaultsUsed: true,
		},
		CreatedAt:         formatTime(time.Now()),
		EncryptionKey:     base64.StdEncoding.EncodeToString(key[:]),
		FileSize:          size,
		PerformanceRating: rating,
		Success:           true,
		UncompressedSize:  size * 3,
	})
}
