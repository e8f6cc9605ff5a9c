"""What the analyst notebooks in `notebooks/` read and draw, kept here so it is importable and tested:
finding and running the notebooks (marimo), the monitoring trend frames and charts, the benchmark
anchors of docs/benchmarks.md. The notebooks stay thin: SQL cells, UI controls and calls into this."""
