"""HTTP mechanisms every interface shares: body limits, the JSON intake, the fast routes, SSE,
responses, errors, credentials, browser rules, departures, standing."""
