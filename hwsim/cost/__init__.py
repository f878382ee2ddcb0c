"""Per-op cost models for each device kind (pure; no scheduling)."""
