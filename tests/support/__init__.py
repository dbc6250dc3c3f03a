"""Test tooling that is not runtime: writers of the files data sources read."""
