"""Users, sessions and the auth flows."""
