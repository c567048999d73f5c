"""Best-practice guideline referentials: versions, applicability evaluation and CDS Hooks."""
