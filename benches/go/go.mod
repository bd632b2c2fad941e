// The Go peer of gofer's side-by-side benchmarks (no dependencies); built by
// the runner in benches/src/runner.rs with `go build`.
module gofer-benches-go

go 1.19
