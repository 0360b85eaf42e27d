// Builds rancher's local-path-provisioner (the real node's default StorageClass provisioner,
// docs/sandbox.md) from its Go module, unchanged: its main package at the module's root.
// k8s.io/api, apimachinery and client-go at test/env/k8s/go.mod's v0.34.4 (v0.0.30 asks for
// v0.30.0): Go's build cache then shares their ~380 packages with build-k8s.sh's build.
module moco-ts.test/env/local-path

go 1.24.0

require (
	github.com/rancher/local-path-provisioner v0.0.30
	k8s.io/api v0.34.4
	k8s.io/apimachinery v0.34.4
	k8s.io/client-go v0.34.4
)
