"""Tooling beside the app: the demo network (`demo`), the synthetic seed network (`seed`) and the benchmarks
(`bench`). The `flask` commands import it only when they run; the running app never does (except to load the
demo on the very first start of an empty database)."""
