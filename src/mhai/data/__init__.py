"""Stage package: data."""
