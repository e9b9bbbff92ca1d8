"""`preflight`: node-, cluster- and workload-level readiness for Istio, with sizing advice."""
