// Builds rancher's local-path-provisioner (the real node's default StorageClass provisioner,
// docs/sandbox.md) from its Go module, unchanged: its main package at the module's root.
module moco-ts.test/env/local-path

go 1.24.0

require github.com/rancher/local-path-provisioner v0.0.30
