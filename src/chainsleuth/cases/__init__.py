"""Act: cases, evidence, four-eyes account actions (freeze, seize, preserve) and goAML reports."""
