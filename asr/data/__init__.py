"""Data: corpus preparation into lhotse manifests (and, later, datasets and collation)."""
