"""flows of the chatrec workspace."""
