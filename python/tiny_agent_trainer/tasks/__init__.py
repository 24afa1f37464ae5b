"""Task definitions: each task's language, reference solver and data splits."""
