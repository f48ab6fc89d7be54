"""Developer benchmarks and experiments: speed (`qa bench`), scale-out, llama.cpp tuning, determinism.

Not the user's eval suite (`eval/`, `qa eval`): these measure how fast the product is and try settings;
their figures are written to docs/bench/ and docs/performance.md. Real servers on loopback
(`bench.servers`) serve these benchmarks and the tests.
"""
