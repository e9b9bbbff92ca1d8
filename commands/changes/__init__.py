"""The change pipeline every mutation of a cluster goes through: the change record and its
state machine, approval policies, the pipeline (dry run, apply, bake, rollback), diffs,
guarded writes, hooks for verifiers and notifiers, and the `change`/`history` commands."""
