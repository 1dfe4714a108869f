"""What the tests and the benchmarks share, and the service never imports: fake outside
services at the process edge (a model server, an auth server) and the app run as real server
processes. Part of the dev tooling; not installed with the package."""
