"""Semantic and hybrid embeddings of projects and users."""
