"""Stage package: safety."""
