"""The Titan dialects: Titan 0.2 and 0.3, and what they share."""
