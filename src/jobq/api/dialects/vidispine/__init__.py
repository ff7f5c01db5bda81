"""The Vidispine dialect: routes, the job mapping, the wire (JSON and XML)."""
