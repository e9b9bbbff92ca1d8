"""Staged, revision-based Istio install: plan, stages as changes, exact rollback."""
