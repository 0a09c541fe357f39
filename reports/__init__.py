"""Reports built from the Overview's figures: the weekly meeting pack (PDF) and weekly snapshots."""
