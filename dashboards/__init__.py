"""dashboards of the chatrec workspace."""
