"""Samhandling: the patient-facing app for the national pathway for long-lasting pain."""
