"""Every SQL statement of the statements service, by what it is about."""
