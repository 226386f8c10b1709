"""Act: cases, evidence, four-eyes account actions (freeze, unfreeze, seize, preserve) and goAML reports.

* :mod:`chainsleuth.cases.service`: cases (from alerts or manual), assignment, deadlines, the status workflow,
  notes, links, the timeline;
* :mod:`chainsleuth.cases.evidence`: evidence with SHA-256 hashes, verification;
* :mod:`chainsleuth.cases.actions`: account actions as four-eyes state machines, ``expire_due``;
* :mod:`chainsleuth.cases.ledger_guard`: the ledger posting path that refuses to move funds out of a frozen
  account, and the legal-hold check;
* :mod:`chainsleuth.cases.goaml`: STR/SAR generation, validation and filing.

See docs/cases.md.
"""
