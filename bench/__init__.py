"""The benchmark suite: ``python -m bench all [--quick] [--backend sqlite|postgres|both]``.

Every benchmark measures the product's path and a raw baseline **in the same run, on the same
data**, and prints their ratio next to the target (see ``docs/PERFORMANCE.md``). Ratios are
printed, never asserted: the machines these run on are shared and noisy.

Layout: :mod:`bench.core` (results, sizes, printing), :mod:`bench.backends` (throwaway
databases), :mod:`bench.datagen` (set-based data generation), :mod:`bench.baseline` (the raw
set-based child-order SQL), :mod:`bench.worker` (measured paths run in fresh processes), one
module per benchmark, and :mod:`bench.http` (uvicorn servers and the load generator).
"""
