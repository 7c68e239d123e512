"""Hidden suite (never shipped to students)."""
