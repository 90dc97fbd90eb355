"""Scores out of ChatTrain, for an organisation's reporting: CSV rows and xAPI statements
built from scored sessions (shared/db/scored_sessions.py), numbers only."""
