"""Service settings and call-center parameters: ``config/continuity.yaml`` plus environment."""
