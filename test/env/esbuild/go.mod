// The esbuild bundler (scripts/build-kubectl-moco.sh bundles src/cli into the one CommonJS
// file a Node single executable application runs). Built by test/env/build-esbuild.sh.
module moco-ts.test/env/esbuild

go 1.26.0

tool github.com/evanw/esbuild/cmd/esbuild

require (
	github.com/evanw/esbuild v0.25.10 // indirect
	golang.org/x/sys v0.0.0-20220715151400-c0bba94af5f8 // indirect
)
