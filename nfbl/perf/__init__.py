"""Speed benchmarks (``nfbl bench speed`` and friends); the library never imports this package."""
