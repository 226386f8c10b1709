"""Cooperate: agencies, officers, law-enforcement requests, matching and minimum-necessary disclosure."""
