// The real node's pause process (main.go). No dependencies.
module moco-ts.test/env/pause

go 1.24.0
