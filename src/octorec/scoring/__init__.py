"""Scoring users against projects and keeping the best per user."""
