"""Teach: courses and graded exercises for law enforcement, generated from simulated worlds."""
