"""tasks of the chatrec workspace."""
