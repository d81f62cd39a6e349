"""Test helpers that are real collaborators (an SMTP server), not mocks."""
