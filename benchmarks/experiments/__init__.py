"""The seed's experiments, one module each; ``benchmarks/run_all.py`` runs them all."""
