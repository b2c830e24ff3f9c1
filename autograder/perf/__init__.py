"""Performance thresholds measured side by side with the reference (see docs/performance.md)."""
