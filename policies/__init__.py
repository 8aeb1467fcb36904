"""Policy data (engine catalog, enforcement modes, RBAC rules) and their loaders."""
