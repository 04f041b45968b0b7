"""Stage package: pilot."""
