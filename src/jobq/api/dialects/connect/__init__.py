"""The Posit Connect dialect: routes, access rules, shapes."""
