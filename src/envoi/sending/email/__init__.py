"""What is particular to the email channel: DKIM keys and signing, sending domains."""
