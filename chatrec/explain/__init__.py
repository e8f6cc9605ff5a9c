"""Evidence for each recommendation and the template explanation built from it."""
